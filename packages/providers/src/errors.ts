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

/** Status → kind, shared by every provider (PRODUCT.md: 429/5xx retryable, 4xx the request's fault). */
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

/**
 * The error for an upstream's non-2xx answer read off the wire (the OpenAI wire client): the
 * message is the body's `error.message` (OpenAI's and Anthropic's shape) or a slice of the body,
 * prefixed with the status as the SDKs do.
 */
export function statusError(
  provider: ProviderName,
  status: number,
  bodyText: string,
  headers: HeaderBag,
): ProviderError {
  const detail = upstreamDetail(bodyText) || 'status code (no body)';
  return answeredError(provider, status, `${status} ${detail}`, headers);
}

/**
 * An upstream's error answer, however it was read (off the wire, or as an SDK's APIError): kind
 * from the status, retry-after when rate limited, the message made safe.
 */
function answeredError(
  provider: ProviderName,
  status: number | undefined,
  message: string,
  headers: HeaderBag,
  cause?: unknown,
): ProviderError {
  const kind = kindForStatus(status);
  const retryAfterMs = kind === 'rate_limited' ? parseRetryAfter(headers) : undefined;
  return new ProviderError(kind, safeMessage(provider, message), {
    ...(status !== undefined ? { status } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    ...(cause !== undefined ? { cause } : {}),
  });
}

/** An error event inside a 200 stream (`data: {"error": {...}}`): the upstream failed mid-way. */
export function streamEventError(provider: ProviderName, data: string): ProviderError {
  return new ProviderError('server', safeMessage(provider, upstreamDetail(data) || 'stream error'));
}

function upstreamDetail(bodyText: string): string {
  try {
    const parsed = JSON.parse(bodyText) as { error?: { message?: unknown } | string } | null;
    const e = parsed?.error;
    if (typeof e === 'string') return e;
    if (typeof e?.message === 'string') return e.message;
  } catch {
    // not JSON: a slice of the text stands
  }
  return bodyText.slice(0, 500);
}

/** Node's header object as the `get()` bag parseRetryAfter reads. */
export function headerBag(h: Record<string, string | string[] | undefined>): HeaderBag {
  return {
    get: (name) => {
      const v = h[name];
      return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
    },
  };
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
  // upstream-http.ts's own whole-call limit.
  if (err instanceof Error && err.name === 'TimeoutError') {
    return new ProviderError('timeout', safeMessage(provider, 'upstream call timed out'), {
      cause: err,
    });
  }
  // The Anthropic SDK's classes, once it is loaded (anthropic-sdk.ts): none of its errors exist
  // before. The OpenAI provider speaks the wire itself (openai.ts) and throws ProviderErrors.
  const AnthropicErrors = loadedAnthropicSdk();
  const isTimeout =
    AnthropicErrors !== undefined && err instanceof AnthropicErrors.APIConnectionTimeoutError;
  if (isTimeout) {
    return new ProviderError('timeout', safeMessage(provider, 'upstream timed out'), {
      cause: err,
    });
  }
  const isUserAbort =
    AnthropicErrors !== undefined && err instanceof AnthropicErrors.APIUserAbortError;
  if (isUserAbort) {
    return new ProviderError('aborted', safeMessage(provider, 'request aborted'), { cause: err });
  }
  const isConnection =
    AnthropicErrors !== undefined && err instanceof AnthropicErrors.APIConnectionError;
  if (isConnection) {
    return new ProviderError('connection', safeMessage(provider, 'connection to upstream failed'), {
      cause: err,
    });
  }
  if (AnthropicErrors !== undefined && err instanceof AnthropicErrors.APIError) {
    return answeredError(provider, err.status, err.message, err.headers, err);
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
