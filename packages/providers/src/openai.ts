import OpenAI from 'openai';
import type {
  ChatCompletion,
  ChatCompletionCreateParams,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import { toProviderError } from './errors.ts';
import { createHttpFetch } from './http-fetch.ts';
import type {
  CallOptions,
  ChatRequest,
  ChatResponse,
  EmbeddingRequest,
  EmbeddingResponse,
  FinishReason,
  Provider,
  StreamEvent,
  ToolCall,
  ToolCallDelta,
  Usage,
} from './types.ts';

export type OpenAIProviderOptions = {
  apiKey: string;
  /** OpenAI or any compatible server (vLLM, Ollama); default https://api.openai.com/v1. */
  baseUrl?: string | undefined;
  /** Client-level ceiling; each call passes its own limit too. */
  timeoutMs?: number | undefined;
};

const OPENAI_URL = 'https://api.openai.com/v1';

/** OpenAI usage → normalized Usage (prompt_tokens already includes cached tokens). */
export function normalizeOpenAIUsage(u: CompletionUsage | null | undefined): Usage {
  return {
    inputTokens: u?.prompt_tokens ?? 0,
    cachedInputTokens: u?.prompt_tokens_details?.cached_tokens ?? 0,
    cacheWriteTokens: 0,
    outputTokens: u?.completion_tokens ?? 0,
    reasoningTokens: u?.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}

export function mapOpenAIFinish(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case 'length':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
    default:
      return 'stop';
  }
}

function toParams(req: ChatRequest, useCompletionTokens: boolean): ChatCompletionCreateParams {
  const p: ChatCompletionCreateParams = {
    model: req.model,
    // The canonical shape is OpenAI's own, so messages pass through unchanged.
    messages: req.messages as ChatCompletionMessageParam[],
  };
  if (req.temperature !== undefined) p.temperature = req.temperature;
  if (req.top_p !== undefined) p.top_p = req.top_p;
  if (req.max_tokens !== undefined) {
    // api.openai.com's reasoning models reject max_tokens; compatible servers (vLLM, Ollama) know
    // max_tokens best, so the newer name goes only to OpenAI itself.
    if (useCompletionTokens) p.max_completion_tokens = req.max_tokens;
    else p.max_tokens = req.max_tokens;
  }
  if (req.stop !== undefined) p.stop = req.stop;
  if (req.tools !== undefined) p.tools = req.tools;
  if (req.tool_choice !== undefined) p.tool_choice = req.tool_choice;
  if (req.response_format !== undefined) {
    p.response_format = req.response_format as ChatCompletionCreateParams['response_format'];
  }
  if (req.user !== undefined) p.user = req.user;
  return p;
}

function toolCallsOf(message: ChatCompletion.Choice['message']): ToolCall[] {
  const out: ToolCall[] = [];
  for (const c of message.tool_calls ?? []) {
    if (c.type === 'function') {
      out.push({
        id: c.id,
        type: 'function',
        function: { name: c.function.name, arguments: c.function.arguments },
      });
    }
  }
  return out;
}

/** OpenAI (or compatible) chat completions and embeddings through the official SDK. */
export function createOpenAIProvider(opts: OpenAIProviderOptions): Provider {
  const client = new OpenAI({
    apiKey: opts.apiKey,
    baseURL: opts.baseUrl ?? OPENAI_URL,
    // Explicit so the SDK reads none of its own env vars.
    organization: null,
    project: null,
    timeout: opts.timeoutMs ?? 600_000,
    // Tollgate owns retries (fallbacks would multiply the SDK's own).
    maxRetries: 0,
    // node:http with pooled keep-alive sockets instead of the global fetch (http-fetch.ts: why).
    fetch: createHttpFetch(),
  });
  const useCompletionTokens = (opts.baseUrl ?? OPENAI_URL).replace(/\/+$/, '') === OPENAI_URL;

  return {
    name: 'openai',

    async chat(req: ChatRequest, call: CallOptions): Promise<ChatResponse> {
      let res: ChatCompletion;
      try {
        res = await client.chat.completions.create(
          { ...toParams(req, useCompletionTokens), stream: false },
          { signal: call.signal, timeout: call.timeoutMs },
        );
      } catch (err) {
        throw toProviderError('openai', err, call.signal);
      }
      const choice = res.choices[0];
      return {
        id: res.id,
        content: choice?.message.content ?? null,
        toolCalls: choice ? toolCallsOf(choice.message) : [],
        finishReason: mapOpenAIFinish(choice?.finish_reason),
        usage: normalizeOpenAIUsage(res.usage),
      };
    },

    async *chatStream(req: ChatRequest, call: CallOptions): AsyncIterable<StreamEvent> {
      let stream: Awaited<ReturnType<typeof startStream>>;
      const startStream = () =>
        client.chat.completions.create(
          {
            ...toParams(req, useCompletionTokens),
            stream: true,
            // Without this, streams report no usage and could not be billed exactly.
            stream_options: { include_usage: true },
          },
          { signal: call.signal, timeout: call.timeoutMs },
        );
      try {
        stream = await startStream();
      } catch (err) {
        throw toProviderError('openai', err, call.signal);
      }
      const iterator = stream[Symbol.asyncIterator]();
      try {
        while (true) {
          let next: IteratorResult<OpenAI.Chat.Completions.ChatCompletionChunk>;
          try {
            next = await iterator.next();
          } catch (err) {
            throw toProviderError('openai', err, call.signal);
          }
          if (next.done) break;
          const chunk = next.value;
          const choice = chunk.choices[0];
          if (choice) {
            const delta = choice.delta;
            const content = delta.content ?? undefined;
            const toolCalls: ToolCallDelta[] | undefined = delta.tool_calls?.map((t) => {
              const d: ToolCallDelta = { index: t.index };
              if (t.id) d.id = t.id;
              if (t.function?.name) d.name = t.function.name;
              if (t.function?.arguments) d.arguments = t.function.arguments;
              return d;
            });
            if ((content !== undefined && content !== '') || (toolCalls && toolCalls.length > 0)) {
              const event: StreamEvent = { type: 'delta' };
              if (content) event.content = content;
              if (toolCalls && toolCalls.length > 0) event.toolCalls = toolCalls;
              yield event;
            }
            if (choice.finish_reason) {
              yield { type: 'finish', finishReason: mapOpenAIFinish(choice.finish_reason) };
            }
          }
          if (chunk.usage) yield { type: 'usage', usage: normalizeOpenAIUsage(chunk.usage) };
        }
      } finally {
        // The caller stopped early (or we failed): close the upstream socket, stop its billing.
        stream.controller.abort();
      }
      // The SDK ends a stream quietly when its signal fires; the caller must learn it was cut short.
      if (call.signal.aborted) throw toProviderError('openai', new Error('aborted'), call.signal);
    },

    async embed(req: EmbeddingRequest, call: CallOptions): Promise<EmbeddingResponse> {
      try {
        const res = await client.embeddings.create(
          {
            model: req.model,
            input: req.input,
            // float: compatible servers do not all speak base64.
            encoding_format: 'float',
            ...(req.dimensions !== undefined ? { dimensions: req.dimensions } : {}),
          },
          { signal: call.signal, timeout: call.timeoutMs },
        );
        const vectors = [...res.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
        return { vectors, usage: { inputTokens: res.usage?.prompt_tokens ?? 0 } };
      } catch (err) {
        throw toProviderError('openai', err, call.signal);
      }
    },
  };
}
