import type {
  ChatRequest,
  ChatResponse,
  FinishReason,
  StreamEvent,
  Usage,
} from '@tollgate/providers';
import type { UserPrincipal } from '../auth/principal.ts';
import type { DomainErrorCode } from '../errors.ts';

/**
 * The contract between the gateway service (core/src/gateway) and every surface that calls it:
 * tRPC/REST chat + embeddings, OpenAI-compatible /v1/*, Anthropic-compatible /v1/messages, batches.
 */

/** A chat call in canonical (OpenAI chat-completions) form; `model` is the public catalog name. */
export type GatewayChatInput = ChatRequest;

export type Surface = 'trpc' | 'rest' | 'openai' | 'anthropic' | 'batch';

/** Who calls and how; never a request object. */
export type CallContext = {
  principal: UserPrincipal;
  /** Unique per call (x-request-id or generated); the request log's request_id. */
  requestId: string;
  /** Aborted when the client goes away: propagates to the upstream call. */
  signal: AbortSignal;
  surface: Surface;
  /** x-tollgate-cache header: 'on' opts in, 'off' bypasses a key's default. */
  cache?: 'on' | 'off' | undefined;
  batchItemId?: string | undefined;
  /**
   * Response headers the surface should send (x-ratelimit-*, x-tollgate-cache); called before the
   * call resolves or throws. Surfaces without headers (batches) leave it out.
   */
  setHeader?: ((name: string, value: string) => void) | undefined;
};

export type GatewayChatResult = ChatResponse & {
  /** The catalog name of the model that answered (alias resolved; a fallback's when one served). */
  model: string;
  provider: string;
  requestId: string;
  /** Unix seconds. */
  created: number;
  cacheHit: boolean;
};

/**
 * What a stream yields after its start: the provider's events, then at most one terminal `error`
 * when the upstream fails after the first byte (never a clean finish in that case).
 */
export type GatewayStreamEvent =
  | StreamEvent
  | { type: 'error'; code: DomainErrorCode; message: string };

export type GatewayStream = {
  model: string;
  provider: string;
  requestId: string;
  created: number;
  /** True when the events replay a cached answer (nothing was sent upstream). */
  cacheHit: boolean;
  /** Resolved only once the upstream produced its first event; failures before that throw. */
  events: AsyncIterable<GatewayStreamEvent>;
};

export type GatewayEmbeddingInput = {
  model: string;
  input: string | string[];
  dimensions?: number;
  /** Headers for the upstream call (W3C traceparent of the surface's server span). */
  headers?: Record<string, string>;
};
export type GatewayEmbeddingResult = {
  model: string;
  provider: string;
  requestId: string;
  vectors: number[][];
  usage: { inputTokens: number };
};

export type { FinishReason, Usage };
