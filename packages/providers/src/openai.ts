import type { IncomingMessage } from 'node:http';
import { createParser } from 'eventsource-parser';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type { CreateEmbeddingResponse } from 'openai/resources/embeddings';
import { headerBag, statusError, streamEventError, toProviderError } from './errors.ts';
import {
  fromOpenAIResponse,
  type OpenAIResponse,
  responseStreamEvents,
} from './openai-responses.ts';
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
import { ProviderError } from './types.ts';
import {
  createUpstreamHttp,
  readBody,
  type UpstreamTarget,
  upstreamTarget,
} from './upstream-http.ts';

export type OpenAIProviderOptions = {
  apiKey: string;
  /** OpenAI or any compatible server (vLLM, Ollama); default https://api.openai.com/v1. */
  baseUrl?: string | undefined;
  /** Client-level ceiling; each call passes its own limit too. */
  timeoutMs?: number | undefined;
  /**
   * 'azure': Azure OpenAI's wire: `{base}/openai/deployments/{model}/…?api-version=…` with an
   * `api-key` header; the request's model names the deployment.
   */
  flavor?: 'openai' | 'azure' | undefined;
  /** Azure's `api-version` query parameter. */
  apiVersion?: string | undefined;
  /** Extra headers sent on every call (a provider connection's `headers`). */
  headers?: Readonly<Record<string, string>> | undefined;
};

/** Azure OpenAI's default `api-version` when a connection names none. */
export const AZURE_DEFAULT_API_VERSION = '2024-10-21';

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

/** Canonical messages minus what chat completions has no field for (another model's reasoning). */
function chatMessages(messages: ChatRequest['messages']): ChatCompletionMessageParam[] {
  // The canonical shape is OpenAI's own, so messages pass through unchanged unless one carries
  // reasoning blocks (api.openai.com refuses unknown message fields).
  if (!messages.some((m) => m.role === 'assistant' && m.reasoning !== undefined))
    return messages as ChatCompletionMessageParam[];
  return messages.map((m) => {
    if (m.role !== 'assistant' || m.reasoning === undefined) return m;
    const { reasoning: _r, ...rest } = m;
    return rest;
  }) as ChatCompletionMessageParam[];
}

function toParams(req: ChatRequest, useCompletionTokens: boolean): ChatCompletionCreateParams {
  const p: ChatCompletionCreateParams = {
    model: req.model,
    messages: chatMessages(req.messages),
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

/** One streamed chunk → the canonical events it carries (content, tool-call fragments, finish, usage). */
function* chunkEvents(chunk: ChatCompletionChunk): Generator<StreamEvent> {
  const choice = chunk.choices?.[0];
  if (choice) {
    const delta = choice.delta ?? {};
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

/**
 * OpenAI (or compatible: vLLM, Ollama) chat completions and embeddings, spoken on the wire.
 *
 * Not through the official SDK's client: in the overhead benchmark (bench/NOTES.md) the SDK's
 * request pipeline (header building over undici Headers, request controllers, eagerly formatted
 * debug details, promise layers) cost 200–270 µs of CPU per call inside Tollgate, more than the
 * whole budget of a gateway hop (2.2× a bare proxy, ~215 µs). The wire shapes are still the SDK's
 * own types, checked at compile time; the official SDKs remain what the tests drive Tollgate with.
 */
export function createOpenAIProvider(opts: OpenAIProviderOptions): Provider {
  const base = (opts.baseUrl ?? OPENAI_URL).replace(/\/+$/, '');
  const clientTimeoutMs = opts.timeoutMs ?? 600_000;
  const useCompletionTokens = base === OPENAI_URL;
  const upstream = createUpstreamHttp();
  const azure = opts.flavor === 'azure';
  // Caller-given extra headers first, so they can never replace the credential or content type.
  const fixedHeaders: Record<string, string> = { ...opts.headers };
  if (azure) fixedHeaders['api-key'] = opts.apiKey;
  else fixedHeaders.authorization = `Bearer ${opts.apiKey}`;
  fixedHeaders['content-type'] = 'application/json';
  fixedHeaders['user-agent'] = 'tollgate';
  const headersFor = {
    'application/json': { ...fixedHeaders, accept: 'application/json' },
    'text/event-stream': { ...fixedHeaders, accept: 'text/event-stream' },
  };
  const fixedTargets = {
    chat: upstreamTarget(`${base}/chat/completions`),
    embeddings: upstreamTarget(`${base}/embeddings`),
    responses: upstreamTarget(`${base}/responses`),
  };
  const apiVersion = encodeURIComponent(opts.apiVersion ?? AZURE_DEFAULT_API_VERSION);
  // Azure: one URL per deployment, parsed once each (the deployment set is the catalog's, bounded).
  const azureTargets = new Map<string, { chat: UpstreamTarget; embeddings: UpstreamTarget }>();
  function targetsFor(model: string) {
    if (!azure) return fixedTargets;
    let t = azureTargets.get(model);
    if (t === undefined) {
      const d = `${base}/openai/deployments/${encodeURIComponent(model)}`;
      t = {
        chat: upstreamTarget(`${d}/chat/completions?api-version=${apiVersion}`),
        embeddings: upstreamTarget(`${d}/embeddings?api-version=${apiVersion}`),
      };
      azureTargets.set(model, t);
    }
    return t;
  }

  /**
   * POSTs a JSON body; resolves with a 2xx response whose body is still unread, or throws the
   * classified error (status answers read off the body, transport failures, our abort/timeout).
   */
  async function post(
    target: UpstreamTarget,
    body: unknown,
    call: CallOptions,
    accept: 'application/json' | 'text/event-stream',
    extra?: Record<string, string>,
  ): Promise<IncomingMessage> {
    let res: IncomingMessage;
    try {
      res = await upstream.send(target, {
        method: 'POST',
        // Per-call headers (trace context) first: they never replace the credential.
        headers: extra ? { ...extra, ...headersFor[accept] } : headersFor[accept],
        body: JSON.stringify(body),
        signal: call.signal,
        timeoutMs:
          accept === 'application/json' ? Math.min(call.timeoutMs, clientTimeoutMs) : undefined,
      });
    } catch (err) {
      throw toProviderError('openai', err, call.signal);
    }
    const status = res.statusCode ?? 502;
    if (status >= 200 && status < 300) return res;
    let text = '';
    try {
      text = (await readBody(res, call.signal)).toString('utf8');
    } catch {
      // the status alone classifies the failure
    }
    throw statusError('openai', status, text, headerBag(res.headers));
  }

  async function postJson<T>(
    target: UpstreamTarget,
    body: unknown,
    call: CallOptions,
    extra?: Record<string, string>,
  ): Promise<T> {
    const res = await post(target, body, call, 'application/json', extra);
    let text: string;
    try {
      text = (await readBody(res, call.signal)).toString('utf8');
    } catch (err) {
      throw toProviderError('openai', err, call.signal);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ProviderError('server', 'openai: upstream answered with invalid JSON', {
        status: res.statusCode,
      });
    }
  }

  return {
    name: 'openai',

    async chat(req: ChatRequest, call: CallOptions): Promise<ChatResponse> {
      if (req.native?.wire === 'openai.responses') {
        const raw = await postJson<OpenAIResponse>(
          fixedTargets.responses,
          { ...req.native.body, model: req.model, stream: false },
          call,
          req.headers,
        );
        return { ...fromOpenAIResponse(raw), raw };
      }
      const res = await postJson<ChatCompletion>(
        targetsFor(req.model).chat,
        { ...toParams(req, useCompletionTokens), stream: false },
        call,
        req.headers,
      );
      const choice = res.choices?.[0];
      return {
        id: res.id,
        content: choice?.message.content ?? null,
        toolCalls: choice ? toolCallsOf(choice.message) : [],
        finishReason: mapOpenAIFinish(choice?.finish_reason),
        usage: normalizeOpenAIUsage(res.usage),
      };
    },

    async *chatStream(req: ChatRequest, call: CallOptions): AsyncIterable<StreamEvent> {
      if (req.native?.wire === 'openai.responses') {
        const res = await post(
          fixedTargets.responses,
          { ...req.native.body, model: req.model, stream: true },
          call,
          'text/event-stream',
          req.headers,
        );
        yield* responseStreamEvents(res, call);
        return;
      }
      const res = await post(
        targetsFor(req.model).chat,
        {
          ...toParams(req, useCompletionTokens),
          stream: true,
          // Without this, streams report no usage and could not be billed exactly.
          stream_options: { include_usage: true },
        },
        call,
        'text/event-stream',
        req.headers,
      );
      const chunks: ChatCompletionChunk[] = [];
      let finished = false;
      let bad: ProviderError | undefined;
      const parser = createParser({
        onEvent(event) {
          if (finished || bad) return;
          if (event.data === '[DONE]') {
            finished = true;
            return;
          }
          let parsed: ChatCompletionChunk & { error?: { message?: string } };
          try {
            parsed = JSON.parse(event.data);
          } catch {
            bad = new ProviderError('server', 'openai: upstream sent an invalid stream event');
            return;
          }
          // A failure after the 200 arrives in-band: {"error": {...}}.
          if (parsed.error) {
            bad = streamEventError('openai', event.data);
            return;
          }
          chunks.push(parsed);
        },
      });
      res.setEncoding('utf8');
      try {
        // destroyOnReturn false: leaving the loop at [DONE] must not close the pooled socket.
        for await (const text of res.iterator({
          destroyOnReturn: false,
        }) as AsyncIterable<string>) {
          parser.feed(text);
          for (const chunk of chunks) yield* chunkEvents(chunk);
          chunks.length = 0;
          if (bad) throw bad;
          if (finished) break;
        }
      } catch (err) {
        throw toProviderError('openai', err, call.signal);
      } finally {
        // After [DONE] only the end of the chunked body is left: read it, so the socket goes back
        // to the pool (a new connection per stream cost TTFB). Anything else (the caller stopped
        // early, or we failed): close the upstream socket, which stops its generating and billing.
        if (finished && !bad && !call.signal.aborted && !res.complete) {
          res.resume();
          const stuck = setTimeout(() => res.destroy(), 5_000); // an upstream that never ends it
          stuck.unref();
          res.once('close', () => clearTimeout(stuck));
        } else if (!res.complete) res.destroy();
      }
      if (call.signal.aborted) throw toProviderError('openai', new Error('aborted'), call.signal);
    },

    async embed(req: EmbeddingRequest, call: CallOptions): Promise<EmbeddingResponse> {
      const res = await postJson<CreateEmbeddingResponse>(
        targetsFor(req.model).embeddings,
        {
          model: req.model,
          input: req.input,
          // float: compatible servers do not all speak base64.
          encoding_format: 'float',
          ...(req.dimensions !== undefined ? { dimensions: req.dimensions } : {}),
        },
        call,
        req.headers,
      );
      const vectors = [...(res.data ?? [])]
        .sort((a, b) => a.index - b.index)
        .map((d) => d.embedding);
      return { vectors, usage: { inputTokens: res.usage?.prompt_tokens ?? 0 } };
    },
  };
}
