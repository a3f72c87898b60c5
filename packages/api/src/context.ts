import { asDomainError, authenticate, type Deps, type Principal } from '@tollgate/core';
import type { CreateFastifyContextOptions } from '@trpc/server/adapters/fastify';
import { toTRPCError } from './errors.ts';

/** Request headers procedures may read (Idempotency-Key, cache opt-in, client request id). */
export type ReqHeaders = Readonly<Record<string, string | undefined>>;

export type ApiDeps = Deps;

/** /trpc or the REST bridge (/api): both run the same procedures. */
export type ApiSurface = 'trpc' | 'rest';

/** Upstream headers that make a gateway call's spans children of the request's server span. */
export type TraceHeaders = () => Record<string, string> | undefined;

const untraced: TraceHeaders = () => undefined;

export function createContextInner(
  deps: ApiDeps,
  principal: Principal = { kind: 'anonymous' },
  headers: ReqHeaders = {},
  meta: { requestId?: string; ip?: string; surface?: ApiSurface; traceHeaders?: TraceHeaders } = {},
) {
  return {
    ...deps,
    principal,
    headers,
    requestId: meta.requestId ?? '',
    ip: meta.ip ?? '',
    /** Which adapter made this context: the request log's `surface` for gateway calls. */
    surface: meta.surface ?? 'trpc',
    /** The server span's traceparent for gateway calls (tracing on only; computed when asked). */
    traceHeaders: meta.traceHeaders ?? untraced,
    /** Response headers a procedure wants set (retry-after); applied by responseMeta. */
    resHeaders: new Map<string, string>(),
  };
}
export type Context = ReturnType<typeof createContextInner>;

const passedHeaders = ['idempotency-key', 'x-tollgate-cache', 'user-agent'] as const;

function pickHeaders(h: Record<string, string | string[] | undefined>): ReqHeaders {
  const out: Record<string, string | undefined> = {};
  for (const name of passedHeaders) {
    const v = h[name];
    out[name] = Array.isArray(v) ? v[0] : v;
  }
  return out;
}

type Req = CreateFastifyContextOptions['req'];

/**
 * Runs once per HTTP request for /trpc and /api; never throws on bad credentials. `traceHeaders`
 * (given by the server when tracing is on) reads the request's server span.
 */
export const makeCreateContext =
  (
    deps: ApiDeps,
    surface: ApiSurface = 'trpc',
    trace?: (req: Req) => Record<string, string> | undefined,
  ) =>
  async ({ req }: Pick<CreateFastifyContextOptions, 'req'>) => {
    const h = req.headers;
    const principal = await authenticate(deps, {
      authorization: h.authorization,
    }).catch((err: unknown) => {
      // A database that is down (restart, failover) is a 503 the caller can retry, not a 500.
      const domain = asDomainError(err);
      throw domain ? toTRPCError(domain) : err;
    });
    return createContextInner(deps, principal, pickHeaders(h), {
      requestId: String(req.id),
      ip: req.ip,
      surface,
      ...(trace ? { traceHeaders: () => trace(req) } : {}),
    });
  };
