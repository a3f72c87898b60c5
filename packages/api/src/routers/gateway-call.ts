import { randomUUID } from 'node:crypto';
import type { CallContext, Surface, UserPrincipal } from '@tollgate/core';
import type { Context } from '../context.ts';

const never = new AbortController().signal;

/** The gateway's call context from a procedure's: who, which request id, the client's signal. */
export function callContext(
  ctx: Context & { principal: UserPrincipal },
  signal: AbortSignal | undefined,
  opts: { requestId?: string; surface?: Surface; cache?: 'on' | 'off' | undefined } = {},
): CallContext {
  const cache = opts.cache ?? ctx.headers['x-tollgate-cache'];
  return {
    principal: ctx.principal,
    requestId: opts.requestId ?? (ctx.requestId || randomUUID()),
    signal: signal ?? never,
    surface: opts.surface ?? ctx.surface,
    cache: cache === 'on' || cache === 'off' ? cache : undefined,
    setHeader: (name, value) => {
      ctx.resHeaders.set(name, value);
    },
  };
}

/**
 * The gateway input with the request's traceparent (tracing on only), so the call's GenAI span is
 * a child of the HTTP server span, as on /v1.
 */
export function traced<T extends object>(ctx: Context, input: T): T {
  const headers = ctx.traceHeaders();
  return headers ? { ...input, headers } : input;
}
