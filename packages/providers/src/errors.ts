import * as OpenAIErrors from 'openai';
import { loadedAnthropicSdk } from './anthropic-sdk.ts';
import type { ProviderErrorKind, ProviderName } from './types.ts';
import { ProviderError } from './types.ts';

type HeaderBag = { get(name: string): string | null } | undefined;

/**
 * Milliseconds from the upstream's `retry-after-ms` or `retry-after` (seconds or an HTTP date);
 * undefined when absent or unparseable.
 */
export function parseRetryAfter(headers: HeaderBag, now = Date.now()): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms) {
    const n = Number.parseFloat(ms);
    if (Number.isFinite(n) && n >= 0) return Math.round(n);
  }
  const ra = headers?.get('retry-after');
  if (!ra) return undefined;
  const secs = Number(ra.trim());
  if (ra.trim() !== '' && Number.isFinite(secs) && secs >= 0) return Math.round(secs * 1000);
  const date = Date.parse(ra);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * The error for a call whose signal fired. A signal aborted with a TimeoutError reason (e.g. from
 * `AbortSignal.timeout()`, or `controller.abort(new DOMException('…', 'TimeoutError'))` for a TTFT
 * or idle limit) is our timeout, not the caller leaving.
 */
export function abortError(
  provider: ProviderName,
  signal: AbortSignal,
  cause?: unknown,
): ProviderError {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new ProviderError('timeout', safeMessage(provider, 'upstream call timed out'), {
      cause,
    });
  }
  return new ProviderError('aborted', safeMessage(provider, 'request aborted by the caller'), {
    cause,
  });
}

/** Status → kind, shared by both SDKs (PRODUCT.md: 429/5xx retryable, 4xx the request's fault). */
export function kindForStatus(status: number | undefined): ProviderErrorKind {
  if (status === undefined) return 'server'; // an error event inside a 200 stream
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 408) return 'timeout';
  if (status === 409 || status >= 500) return 'server'; // 409: OpenAI's lock timeout, retried by its SDK too
  return 'bad_request';
}

// Upstream messages can quote part of our provider key ("Incorrect API key provided: sk-ab***").
const KEY_LIKE = /\b(sk-[A-Za-z0-9_*-]{4,}|[A-Za-z0-9_-]{32,})/g;

function safeMessage(provider: ProviderName, detail: string): string {
  return `${provider}: ${detail.replace(KEY_LIKE, '[redacted]')}`;
}

function isTransportError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code =
    (err as { code?: unknown }).code ?? (err.cause as { code?: unknown } | undefined)?.code;
  return (
    err.name === 'TypeError' || err.message === 'terminated' || typeof code === 'string' // ECONNRESET, UND_ERR_SOCKET, ...
  );
}

/**
 * Classifies anything an SDK call or stream threw into a ProviderError, so the gateway decides
 * retries and fallbacks without knowing SDKs. Already-classified errors pass through.
 */
export function toProviderError(
  provider: ProviderName,
  err: unknown,
  signal: AbortSignal,
): ProviderError {
  if (err instanceof ProviderError) return err;
  if (signal.aborted) return abortError(provider, signal, err);
  // Anthropic's classes only once its SDK is loaded (anthropic-sdk.ts); none of its errors before.
  const AnthropicErrors = loadedAnthropicSdk();
  const isTimeout =
    err instanceof OpenAIErrors.APIConnectionTimeoutError ||
    (AnthropicErrors !== undefined && err instanceof AnthropicErrors.APIConnectionTimeoutError);
  if (isTimeout) {
    return new ProviderError('timeout', safeMessage(provider, 'upstream timed out'), {
      cause: err,
    });
  }
  const isUserAbort =
    err instanceof OpenAIErrors.APIUserAbortError ||
    (AnthropicErrors !== undefined && err instanceof AnthropicErrors.APIUserAbortError);
  if (isUserAbort) {
    return new ProviderError('aborted', safeMessage(provider, 'request aborted'), { cause: err });
  }
  const isConnection =
    err instanceof OpenAIErrors.APIConnectionError ||
    (AnthropicErrors !== undefined && err instanceof AnthropicErrors.APIConnectionError);
  if (isConnection) {
    return new ProviderError('connection', safeMessage(provider, 'connection to upstream failed'), {
      cause: err,
    });
  }
  if (
    err instanceof OpenAIErrors.APIError ||
    (AnthropicErrors !== undefined && err instanceof AnthropicErrors.APIError)
  ) {
    const status = err.status;
    const kind = kindForStatus(status);
    const retryAfterMs = kind === 'rate_limited' ? parseRetryAfter(err.headers) : undefined;
    return new ProviderError(kind, safeMessage(provider, err.message), {
      ...(status !== undefined ? { status } : {}),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      cause: err,
    });
  }
  if (isTransportError(err)) {
    // undici surfaces a socket dropped mid-body as TypeError('terminated'), not an SDK error.
    return new ProviderError('connection', safeMessage(provider, 'upstream connection lost'), {
      cause: err,
    });
  }
  const detail = err instanceof Error ? err.message : String(err);
  return new ProviderError('server', safeMessage(provider, detail), { cause: err });
}
