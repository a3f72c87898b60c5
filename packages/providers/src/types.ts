/**
 * The one provider interface. The canonical request/response shape is OpenAI's chat-completions
 * format (the lingua franca); each adapter maps to and from its own wire format.
 */

export type ProviderName = 'openai' | 'anthropic' | 'mock';

export type ToolCall = {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
};

export type ContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string; detail?: 'auto' | 'low' | 'high' } };

export type ChatMessage =
  | { role: 'system' | 'developer'; content: string | ContentPart[]; name?: string }
  | { role: 'user'; content: string | ContentPart[]; name?: string }
  | {
      role: 'assistant';
      content: string | null;
      tool_calls?: ToolCall[];
      name?: string;
      /**
       * The turn's reasoning as the model gave it (Anthropic thinking blocks with signatures),
       * sent back to a provider that takes it; never sent to OpenAI chat completions.
       */
      reasoning?: ReasoningBlock[];
    }
  | { role: 'tool'; content: string; tool_call_id: string };

/** A reasoning block kept verbatim (its signature must come back unchanged). */
export type ReasoningBlock =
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string };

/** A fragment of a reasoning block in a stream; `index` groups fragments of one block. */
export type ReasoningDelta = {
  index: number;
  type: 'thinking' | 'redacted_thinking';
  thinking?: string;
  signature?: string;
  data?: string;
};

export type ToolDefinition = {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
};

export type ToolChoice =
  | 'auto'
  | 'none'
  | 'required'
  | { type: 'function'; function: { name: string } };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      json_schema: { name: string; schema?: Record<string, unknown>; strict?: boolean };
    };

export type ChatRequest = {
  /** The upstream model id (the catalog has already resolved the public name). */
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  stop?: string | string[];
  tools?: ToolDefinition[];
  tool_choice?: ToolChoice;
  response_format?: ResponseFormat;
  user?: string;
  /** Extended reasoning with this token budget, where the provider has it (Anthropic thinking). */
  reasoning?: { budgetTokens: number };
  /**
   * The caller's own wire body, for when the provider that serves the call speaks that same wire:
   * it is then sent as is (model replaced), so fields the canonical shape has no place for
   * (thinking and its signatures, cache_control, reasoning items, built-in tools) arrive intact.
   * Any other provider ignores it and serves the canonical fields above.
   */
  native?: NativeBody;
  /** Headers for the upstream call whatever its wire (W3C traceparent). */
  headers?: Record<string, string>;
};

/** A body in one upstream's own wire format (see ChatRequest.native). */
export type NativeBody =
  | {
      wire: 'anthropic.messages';
      body: Record<string, unknown>;
      /** anthropic-beta / anthropic-version as the caller sent them. */
      headers: Record<string, string>;
    }
  | { wire: 'openai.responses'; body: Record<string, unknown> };

/**
 * Normalized token counts (PRODUCT.md): inputTokens counts every input token, cached reads and
 * cache writes included; outputTokens includes reasoningTokens.
 */
export type Usage = {
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
};

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export type ChatResponse = {
  /** The upstream's response id. */
  id: string;
  content: string | null;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  /**
   * The stop sequence that ended generation (finishReason is then 'stop'), when the upstream names
   * it: Anthropic does, OpenAI never does. A field rather than a finish reason of its own, so
   * OpenAI-shaped surfaces keep answering finish_reason "stop".
   */
  stopSequence?: string;
  usage: Usage;
  /** Reasoning blocks before the answer (Anthropic thinking), verbatim. */
  reasoning?: ReasoningBlock[];
  /** The upstream's own answer, when the call went out natively (ChatRequest.native). */
  raw?: unknown;
};

/** A tool-call fragment in a stream, OpenAI-style: `index` groups fragments of one call. */
export type ToolCallDelta = {
  index: number;
  id?: string;
  name?: string;
  arguments?: string;
};

export type StreamEvent =
  | { type: 'delta'; content?: string; toolCalls?: ToolCallDelta[]; reasoning?: ReasoningDelta }
  /** `stopSequence` as in ChatResponse. */
  | { type: 'finish'; finishReason: FinishReason; stopSequence?: string }
  /** Sent once, when the upstream reports usage (usually last). */
  | { type: 'usage'; usage: Usage }
  /**
   * One upstream event as received, for a native call (ChatRequest.native): it comes before the
   * canonical events it maps to, which a native surface ignores.
   */
  | { type: 'raw'; event: { type: string } & Record<string, unknown> };

export type EmbeddingRequest = {
  model: string;
  input: string[];
  dimensions?: number;
  /** Headers for the upstream call (W3C traceparent). */
  headers?: Record<string, string>;
};
export type EmbeddingResponse = { vectors: number[][]; usage: { inputTokens: number } };

export type CallOptions = {
  /** Aborts the upstream call (client disconnect, timeout). */
  signal: AbortSignal;
  /** Whole-call limit for non-streaming calls. */
  timeoutMs: number;
};

export interface Provider {
  readonly name: ProviderName;
  chat(req: ChatRequest, opts: CallOptions): Promise<ChatResponse>;
  /** Yields events until the upstream finishes; throws ProviderError on failure. */
  chatStream(req: ChatRequest, opts: CallOptions): AsyncIterable<StreamEvent>;
  embed(req: EmbeddingRequest, opts: CallOptions): Promise<EmbeddingResponse>;
  /** The upstream's own input-token count for a Messages body (Anthropic only). */
  countTokens?(req: CountTokensRequest, opts: CallOptions): Promise<number>;
}

/** An Anthropic count_tokens body (messages, system, tools, thinking…) for an upstream model. */
export type CountTokensRequest = {
  model: string;
  body: Record<string, unknown>;
  headers: Record<string, string>;
};

export type ProviderErrorKind =
  | 'rate_limited' // upstream 429: retryable
  | 'server' // upstream 5xx: retryable
  | 'connection' // refused, reset, DNS: retryable
  | 'timeout' // our limit hit: retryable (fallback)
  | 'aborted' // the caller went away: never retried
  | 'bad_request' // upstream 400/404/422: the request is at fault, not retryable
  | 'auth'; // upstream 401/403: our provider key is wrong, not retryable

/** Every upstream failure, classified, so the gateway decides retries without knowing SDKs. */
export class ProviderError extends Error {
  readonly kind: ProviderErrorKind;
  readonly status: number | undefined;
  /** From the upstream's retry-after header, when it sent one. */
  readonly retryAfterMs: number | undefined;
  constructor(
    kind: ProviderErrorKind,
    message: string,
    opts: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'ProviderError';
    this.kind = kind;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }
  get retryable(): boolean {
    return ['rate_limited', 'server', 'connection', 'timeout'].includes(this.kind);
  }
}

export type ProviderRegistry = Readonly<Partial<Record<ProviderName, Provider>>>;
