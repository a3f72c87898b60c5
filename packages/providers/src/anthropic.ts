import type {
  ToolChoice as AnthropicToolChoice,
  ContentBlockParam,
  ImageBlockParam,
  Message,
  MessageCountTokensParams,
  MessageCreateParams,
  MessageParam,
  RawMessageStreamEvent,
  StopReason,
  Tool,
} from '@anthropic-ai/sdk/resources/messages';
import { loadAnthropicSdk } from './anthropic-sdk.ts';
import { toProviderError } from './errors.ts';
import { createHttpFetch } from './http-fetch.ts';
import type {
  CallOptions,
  ChatMessage,
  ChatRequest,
  ChatResponse,
  ContentPart,
  CountTokensRequest,
  EmbeddingResponse,
  FinishReason,
  Provider,
  ReasoningBlock,
  StreamEvent,
  ToolCall,
  ToolChoice,
  Usage,
} from './types.ts';
import { ProviderError } from './types.ts';

export type AnthropicProviderOptions = {
  apiKey: string;
  /** Without /v1: the SDK adds it. Default https://api.anthropic.com. */
  baseUrl?: string | undefined;
  timeoutMs?: number | undefined;
  /** Extra headers sent on every call (a provider connection's `headers`). */
  headers?: Readonly<Record<string, string>> | undefined;
};

/** Anthropic requires max_tokens; OpenAI-format callers usually leave it out. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

const JSON_INSTRUCTION = 'Respond with a single valid JSON object and nothing else.';

type UsageFields = {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  output_tokens_details?: { thinking_tokens?: number | null } | null;
};

/**
 * Anthropic usage → normalized Usage: Anthropic's input_tokens excludes cache reads and writes,
 * Tollgate's inputTokens includes both.
 */
export function normalizeAnthropicUsage(u: UsageFields): Usage {
  const cacheRead = u.cache_read_input_tokens ?? 0;
  const cacheWrite = u.cache_creation_input_tokens ?? 0;
  return {
    inputTokens: (u.input_tokens ?? 0) + cacheRead + cacheWrite,
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    outputTokens: u.output_tokens ?? 0,
    reasoningTokens: u.output_tokens_details?.thinking_tokens ?? 0,
  };
}

export function mapAnthropicStop(reason: StopReason | string | null | undefined): FinishReason {
  switch (reason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}

/**
 * Anthropic's stop_reason + stop_sequence → canonical finish fields. `stop_sequence` is a plain
 * 'stop' whose matched string travels in `stopSequence` (types.ts: why not a reason of its own).
 */
export function anthropicFinish(
  reason: StopReason | string | null | undefined,
  stopSequence: string | null | undefined,
): { finishReason: FinishReason; stopSequence?: string } {
  const finishReason = mapAnthropicStop(reason);
  return reason === 'stop_sequence' && typeof stopSequence === 'string'
    ? { finishReason, stopSequence }
    : { finishReason };
}

function textOf(content: string | ContentPart[] | null): string {
  if (content === null) return '';
  if (typeof content === 'string') return content;
  return content.map((p) => (p.type === 'text' ? p.text : '')).join('');
}

const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'] as const;
type ImageType = (typeof IMAGE_TYPES)[number];

function imageBlock(url: string): ImageBlockParam {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  if (m) {
    const mediaType = m[1] as ImageType;
    if (!IMAGE_TYPES.includes(mediaType)) {
      throw new ProviderError('bad_request', `anthropic: unsupported image type ${m[1]}`);
    }
    return { type: 'image', source: { type: 'base64', media_type: mediaType, data: m[2] ?? '' } };
  }
  return { type: 'image', source: { type: 'url', url } };
}

function userBlocks(content: string | ContentPart[]): ContentBlockParam[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return content.map(
    (p): ContentBlockParam =>
      p.type === 'text' ? { type: 'text', text: p.text } : imageBlock(p.image_url.url),
  );
}

function parseArguments(args: string): unknown {
  try {
    const v: unknown = JSON.parse(args || '{}');
    return typeof v === 'object' && v !== null ? v : { value: v };
  } catch {
    // tool_use.input must be an object; keep the caller's text rather than fail the turn.
    return { _raw: args };
  }
}

function toToolChoice(c: ToolChoice): AnthropicToolChoice {
  if (c === 'auto') return { type: 'auto' };
  if (c === 'none') return { type: 'none' };
  if (c === 'required') return { type: 'any' };
  return { type: 'tool', name: c.function.name };
}

/** Canonical (OpenAI-shaped) request → Messages API params. */
export function toAnthropicParams(req: ChatRequest): MessageCreateParams {
  const system: string[] = [];
  const messages: MessageParam[] = [];
  // Tool results and user turns that follow each other become one user turn, as Anthropic expects.
  const push = (role: 'user' | 'assistant', blocks: ContentBlockParam[]) => {
    const last = messages.at(-1);
    if (last && last.role === role && Array.isArray(last.content)) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  for (const m of req.messages as ChatMessage[]) {
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(textOf(m.content));
        break;
      case 'user':
        push('user', userBlocks(m.content));
        break;
      case 'assistant': {
        // Thinking first, verbatim: the API checks each block's signature.
        const blocks: ContentBlockParam[] = (m.reasoning ?? []).map(
          (r): ContentBlockParam =>
            r.type === 'thinking'
              ? { type: 'thinking', thinking: r.thinking, signature: r.signature }
              : { type: 'redacted_thinking', data: r.data },
        );
        const text = textOf(m.content);
        if (text !== '') blocks.push({ type: 'text', text });
        for (const c of m.tool_calls ?? []) {
          blocks.push({
            type: 'tool_use',
            id: c.id,
            name: c.function.name,
            input: parseArguments(c.function.arguments),
          });
        }
        push('assistant', blocks);
        break;
      }
      case 'tool':
        push('user', [{ type: 'tool_result', tool_use_id: m.tool_call_id, content: m.content }]);
        break;
    }
  }
  const format = req.response_format;
  if (format?.type === 'json_object') system.push(JSON_INSTRUCTION);
  if (format?.type === 'json_schema') {
    const schema = format.json_schema.schema
      ? ` matching this JSON schema: ${JSON.stringify(format.json_schema.schema)}`
      : '';
    system.push(`${JSON_INSTRUCTION}${schema ? ` It must be${schema}` : ''}`);
  }

  const p: MessageCreateParams = {
    model: req.model,
    max_tokens: req.max_tokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
    messages,
  };
  if (system.length > 0) p.system = system.join('\n\n');
  // temperature/top_p are not sent: the Messages API this SDK speaks has dropped sampling params.
  if (req.stop !== undefined)
    p.stop_sequences = typeof req.stop === 'string' ? [req.stop] : req.stop;
  if (req.tools !== undefined && req.tools.length > 0) {
    p.tools = req.tools.map(
      (t): Tool => ({
        name: t.function.name,
        ...(t.function.description !== undefined ? { description: t.function.description } : {}),
        input_schema: (t.function.parameters ?? {
          type: 'object',
          properties: {},
        }) as Tool['input_schema'],
      }),
    );
  }
  if (req.tool_choice !== undefined && p.tools) p.tool_choice = toToolChoice(req.tool_choice);
  if (req.user !== undefined) p.metadata = { user_id: req.user };
  if (req.reasoning !== undefined) {
    // Anthropic wants budget_tokens ≥ 1024 and below max_tokens: the budget yields to the limit.
    const budget = Math.min(req.reasoning.budgetTokens, p.max_tokens - 1);
    if (budget >= 1024) p.thinking = { type: 'enabled', budget_tokens: budget };
  }
  return p;
}

/** Messages API response → canonical ChatResponse. */
export function fromAnthropicMessage(msg: Message): ChatResponse {
  let text = '';
  let hasText = false;
  const toolCalls: ToolCall[] = [];
  const reasoning: ReasoningBlock[] = [];
  for (const block of msg.content) {
    if (block.type === 'thinking') {
      reasoning.push({ type: 'thinking', thinking: block.thinking, signature: block.signature });
    } else if (block.type === 'redacted_thinking') {
      reasoning.push({ type: 'redacted_thinking', data: block.data });
    } else if (block.type === 'text') {
      text += block.text;
      hasText = true;
    } else if (block.type === 'tool_use') {
      toolCalls.push({
        id: block.id,
        type: 'function',
        function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
      });
    }
  }
  return {
    id: msg.id,
    content: hasText || toolCalls.length === 0 ? text : null,
    toolCalls,
    ...anthropicFinish(msg.stop_reason, msg.stop_sequence),
    usage: normalizeAnthropicUsage(msg.usage),
    ...(reasoning.length > 0 ? { reasoning } : {}),
  };
}

/**
 * Stateful mapper of Anthropic stream events to StreamEvents: content-block indexes become
 * OpenAI-style tool-call indexes (0, 1, … over tool_use blocks only).
 */
export function createAnthropicStreamMapper(): (e: RawMessageStreamEvent) => StreamEvent[] {
  const toolIndex = new Map<number, number>();
  // content-block index → reasoning index (0, 1, … over thinking blocks only).
  const reasoningIndex = new Map<number, number>();
  let usage: UsageFields = {};
  return (e) => {
    switch (e.type) {
      case 'message_start':
        usage = { ...e.message.usage };
        return [];
      case 'content_block_start': {
        const b = e.content_block;
        if (b.type === 'tool_use') {
          const index = toolIndex.size;
          toolIndex.set(e.index, index);
          return [{ type: 'delta', toolCalls: [{ index, id: b.id, name: b.name, arguments: '' }] }];
        }
        if (b.type === 'text' && b.text !== '') return [{ type: 'delta', content: b.text }];
        if (b.type === 'thinking' || b.type === 'redacted_thinking') {
          const index = reasoningIndex.size;
          reasoningIndex.set(e.index, index);
          return [
            {
              type: 'delta',
              reasoning:
                b.type === 'thinking'
                  ? { index, type: 'thinking', thinking: b.thinking, signature: b.signature }
                  : { index, type: 'redacted_thinking', data: b.data },
            },
          ];
        }
        return [];
      }
      case 'content_block_delta': {
        const d = e.delta;
        if (d.type === 'text_delta')
          return d.text === '' ? [] : [{ type: 'delta', content: d.text }];
        if (d.type === 'input_json_delta') {
          const index = toolIndex.get(e.index);
          if (index === undefined || d.partial_json === '') return [];
          return [{ type: 'delta', toolCalls: [{ index, arguments: d.partial_json }] }];
        }
        if (d.type === 'thinking_delta' || d.type === 'signature_delta') {
          const index = reasoningIndex.get(e.index);
          if (index === undefined) return [];
          return [
            {
              type: 'delta',
              reasoning:
                d.type === 'thinking_delta'
                  ? { index, type: 'thinking', thinking: d.thinking }
                  : { index, type: 'thinking', signature: d.signature },
            },
          ];
        }
        return [];
      }
      case 'message_delta': {
        // message_delta usage is cumulative; input fields may be null (then message_start's stand).
        const u = e.usage;
        usage = {
          input_tokens: u.input_tokens ?? usage.input_tokens ?? null,
          cache_read_input_tokens:
            u.cache_read_input_tokens ?? usage.cache_read_input_tokens ?? null,
          cache_creation_input_tokens:
            u.cache_creation_input_tokens ?? usage.cache_creation_input_tokens ?? null,
          output_tokens: u.output_tokens,
          output_tokens_details: u.output_tokens_details ?? usage.output_tokens_details ?? null,
        };
        const out: StreamEvent[] = [];
        if (e.delta.stop_reason) {
          out.push({
            type: 'finish',
            ...anthropicFinish(e.delta.stop_reason, e.delta.stop_sequence),
          });
        }
        return out;
      }
      case 'message_stop':
        return [{ type: 'usage', usage: normalizeAnthropicUsage(usage) }];
      default:
        return [];
    }
  };
}

/** Anthropic's Messages API through the official SDK, behind the canonical interface. */
export function createAnthropicProvider(opts: AnthropicProviderOptions): Provider {
  // The SDK is imported now, in the background (anthropic-sdk.ts: why not with this module).
  const client = loadAnthropicSdk().then(
    (sdk) =>
      new sdk.default({
        apiKey: opts.apiKey,
        // Explicit so the SDK reads none of its own env vars (ANTHROPIC_AUTH_TOKEN, ANTHROPIC_BASE_URL).
        authToken: null,
        baseURL: opts.baseUrl ?? 'https://api.anthropic.com',
        timeout: opts.timeoutMs ?? 600_000,
        // Tollgate owns retries.
        maxRetries: 0,
        ...(opts.headers ? { defaultHeaders: { ...opts.headers } } : {}),
        // node:http with pooled keep-alive sockets instead of the global fetch (http-fetch.ts: why).
        fetch: createHttpFetch(),
      }),
  );
  // A failed import surfaces on each call; unobserved until then, it must not end the process.
  client.catch(() => {});

  return {
    name: 'anthropic',

    async chat(req: ChatRequest, call: CallOptions): Promise<ChatResponse> {
      const { params, headers } = requestOf(req);
      let msg: Message;
      try {
        msg = await (await client).messages.create(
          { ...params, stream: false },
          { signal: call.signal, timeout: call.timeoutMs, headers },
        );
      } catch (err) {
        throw toProviderError('anthropic', err, call.signal);
      }
      const out = fromAnthropicMessage(msg);
      return req.native?.wire === 'anthropic.messages' ? { ...out, raw: msg } : out;
    },

    async *chatStream(req: ChatRequest, call: CallOptions): AsyncIterable<StreamEvent> {
      const { params, headers } = requestOf(req);
      const native = req.native?.wire === 'anthropic.messages';
      const start = async () =>
        (await client).messages.create(
          { ...params, stream: true },
          { signal: call.signal, timeout: call.timeoutMs, headers },
        );
      let stream: Awaited<ReturnType<typeof start>>;
      try {
        stream = await start();
      } catch (err) {
        throw toProviderError('anthropic', err, call.signal);
      }
      const map = createAnthropicStreamMapper();
      const iterator = stream[Symbol.asyncIterator]();
      let stopped = false;
      try {
        while (true) {
          let next: IteratorResult<RawMessageStreamEvent>;
          try {
            next = await iterator.next();
          } catch (err) {
            throw toProviderError('anthropic', err, call.signal);
          }
          if (next.done) break;
          if (next.value.type === 'message_stop') stopped = true;
          if (native)
            yield { type: 'raw', event: next.value as unknown as { type: string } & JsonObject };
          yield* map(next.value);
        }
      } finally {
        // The caller stopped early (or we failed): close the upstream socket.
        stream.controller.abort();
      }
      if (call.signal.aborted)
        throw toProviderError('anthropic', new Error('aborted'), call.signal);
      if (!stopped) {
        // A body that ends without message_stop was cut off, not finished.
        throw new ProviderError('connection', 'anthropic: stream ended before message_stop');
      }
    },

    async embed(): Promise<EmbeddingResponse> {
      throw new ProviderError('bad_request', 'anthropic: embeddings are not supported', {
        status: 400,
      });
    },

    async countTokens(req: CountTokensRequest, call: CallOptions): Promise<number> {
      try {
        const res = await (await client).messages.countTokens(
          { ...(req.body as unknown as MessageCountTokensParams), model: req.model },
          { signal: call.signal, timeout: call.timeoutMs, headers: req.headers },
        );
        return res.input_tokens;
      } catch (err) {
        throw toProviderError('anthropic', err, call.signal);
      }
    },
  };
}

type JsonObject = Record<string, unknown>;

/**
 * The Messages params and extra headers of a call: the caller's own Messages body when it came
 * in on that wire (thinking blocks, signatures, cache_control and betas arrive untouched),
 * else the canonical request translated.
 */
function requestOf(req: ChatRequest): {
  params: MessageCreateParams;
  headers: Record<string, string>;
} {
  if (req.native?.wire === 'anthropic.messages') {
    const { stream: _stream, ...body } = req.native.body;
    return {
      params: { ...(body as unknown as MessageCreateParams), model: req.model },
      headers: { ...req.native.headers, ...req.headers },
    };
  }
  return { params: toAnthropicParams(req), headers: { ...req.headers } };
}
