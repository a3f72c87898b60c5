import type { CallOptions, ProviderErrorKind } from '@tollgate/providers';
import { ProviderError } from '@tollgate/providers';
import type { DomainErrorCode } from '../errors.ts';
import { DomainError } from '../errors.ts';

/** Retry knobs; tests inject a sleep and a random source so nothing waits on wall time. */
export type GatewayTuning = {
  /** Retries per model before moving down the fallback chain. */
  maxRetries: number;
  baseDelayMs: number;
  /** A retry-after above this moves to the next fallback instead of waiting. */
  maxDelayMs: number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  random: () => number;
};

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ProviderError('aborted', 'client went away'));
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new ProviderError('aborted', 'client went away'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export const defaultTuning: GatewayTuning = {
  maxRetries: 2,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
  sleep: abortableSleep,
  random: Math.random,
};

/** Exponential backoff with full jitter, or the upstream's retry-after when it sent one. */
export function retryDelay(
  t: GatewayTuning,
  attempt: number,
  retryAfterMs: number | undefined,
): number | null {
  if (retryAfterMs !== undefined) return retryAfterMs <= t.maxDelayMs ? retryAfterMs : null;
  return Math.floor(t.random() * Math.min(t.maxDelayMs, t.baseDelayMs * 2 ** attempt));
}

export function asProviderError(e: unknown): ProviderError {
  if (e instanceof ProviderError) return e;
  return new ProviderError('server', e instanceof Error ? e.message : String(e), { cause: e });
}

/** Why an attempt's signal fired: ours (deadline, TTFT, idle) or the client's. */
export type AttemptAbort = { reason: 'deadline' | 'ttft' | 'idle' | 'client' | null };

/**
 * One upstream attempt's signal: aborts when the client goes away or a limit fires. The caller
 * arms limits with `limit()` and must `dispose()` when done.
 */
export function attemptSignal(client: AbortSignal, deadlineAt: number) {
  const ac = new AbortController();
  const why: AttemptAbort = { reason: null };
  const fire = (reason: NonNullable<AttemptAbort['reason']>) => {
    if (ac.signal.aborted) return;
    why.reason = reason;
    ac.abort();
  };
  const onClient = () => fire('client');
  if (client.aborted) fire('client');
  else client.addEventListener('abort', onClient, { once: true });
  const remaining = () => Math.max(0, deadlineAt - performance.now());
  const deadline = setTimeout(() => fire('deadline'), remaining());
  let limitTimer: NodeJS.Timeout | undefined;
  return {
    signal: ac.signal,
    why,
    remaining,
    // Both SDKs reject a fractional `timeout` ("timeout must be an integer").
    options: (): CallOptions => ({
      signal: ac.signal,
      timeoutMs: Math.max(1, Math.ceil(remaining())),
    }),
    /** (Re)arms the TTFT or idle limit. */
    limit(kind: 'ttft' | 'idle', ms: number) {
      clearTimeout(limitTimer);
      limitTimer = setTimeout(() => fire(kind), ms);
    },
    abort: () => fire('client'),
    dispose() {
      clearTimeout(deadline);
      clearTimeout(limitTimer);
      client.removeEventListener('abort', onClient);
    },
  };
}
export type AttemptSignal = ReturnType<typeof attemptSignal>;

/** Settles with `p`, or rejects as soon as `signal` aborts (even if the provider ignores it). */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(new ProviderError('aborted', 'aborted'));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ProviderError('aborted', 'aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** An attempt's failure, with our own limits turned into `timeout` and the client's into `aborted`. */
export function classify(e: unknown, why: AttemptAbort): ProviderError {
  if (why.reason === 'client') return new ProviderError('aborted', 'the client went away');
  if (why.reason === 'deadline' || why.reason === 'ttft' || why.reason === 'idle') {
    const what =
      why.reason === 'ttft'
        ? 'no first token within the time-to-first-token limit'
        : why.reason === 'idle'
          ? 'the upstream stream went idle'
          : 'the upstream call took too long';
    return new ProviderError('timeout', what, { cause: e });
  }
  return asProviderError(e);
}

export function domainCodeOf(kind: ProviderErrorKind): DomainErrorCode {
  switch (kind) {
    case 'rate_limited':
      return 'upstream_rate_limited';
    case 'timeout':
      return 'upstream_timeout';
    case 'bad_request':
      return 'bad_request';
    default:
      return 'upstream_error';
  }
}

/** The caller-facing refusal after retries and fallbacks; upstream details stay in our logs. */
export function toDomainError(e: ProviderError): DomainError {
  const code = domainCodeOf(e.kind);
  const message =
    e.kind === 'rate_limited'
      ? 'the upstream provider is rate limiting; try again later'
      : e.kind === 'timeout'
        ? `upstream timeout: ${e.message}`
        : e.kind === 'bad_request'
          ? `the upstream provider refused the request: ${e.message}`
          : e.kind === 'aborted'
            ? 'the request was aborted'
            : 'the upstream provider failed';
  return new DomainError(code, message, {
    cause: e,
    ...(e.kind === 'rate_limited' && e.retryAfterMs !== undefined
      ? { retryAfter: Math.max(1, Math.ceil(e.retryAfterMs / 1000)) }
      : {}),
  });
}

/** The `status` label of upstream metrics: the upstream's HTTP status, or what we answered. */
export function statusLabel(e: ProviderError | null): string {
  if (!e) return '200';
  if (e.status !== undefined) return String(e.status);
  switch (e.kind) {
    case 'rate_limited':
      return '429';
    case 'timeout':
      return '504';
    case 'aborted':
      return '499';
    case 'bad_request':
      return '400';
    default:
      return '502';
  }
}
