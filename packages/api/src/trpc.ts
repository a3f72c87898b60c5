import {
  type AuditStamp,
  asDomainError,
  DomainError,
  hasScope,
  invalidReasonMessages,
  type KeyScope,
  type UserPrincipal,
} from '@tollgate/core';
import { initTRPC, TRPCError } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import type { Context } from './context.ts';
import { toTRPCError } from './errors.ts';

const t = initTRPC
  .context<Context>()
  .meta<OpenApiMeta>()
  .create({
    isDev: false, // the default reads NODE_ENV and puts stack traces into responses
    sse: { ping: { enabled: true, intervalMs: 15_000 } },
    errorFormatter: ({ shape, error }) => ({
      ...shape,
      data: {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        path: shape.data.path,
        reason: error.cause instanceof DomainError ? error.cause.code : null,
      },
    }),
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

const domainErrors = t.middleware(async ({ ctx, next }) => {
  const result = await next(); // a throw below arrives here as { ok: false, error: TRPCError{ cause } }
  // asDomainError: a lost database connection becomes `unavailable` (503), not a 500.
  const cause = result.ok ? undefined : asDomainError(result.error.cause);
  if (cause) {
    if (cause.retryAfter !== undefined) ctx.resHeaders.set('retry-after', String(cause.retryAfter));
    throw toTRPCError(cause);
  }
  return result;
});

export const publicProcedure = t.procedure.use(domainErrors);

export const protectedProcedure = publicProcedure.use(({ ctx, next }) => {
  const p = ctx.principal;
  if (p.kind === 'anonymous') {
    throw toTRPCError(
      new DomainError(
        'unauthenticated',
        'missing credentials: send Authorization: Bearer <token or key>',
      ),
    );
  }
  if (p.kind === 'invalid')
    throw toTRPCError(
      new DomainError(
        p.reason === 'user_disabled' ? 'user_disabled' : p.reason,
        invalidReasonMessages[p.reason],
      ),
    );
  return next({ ctx: { principal: p } });
});

/** A procedure that needs a scope when called with an API key (JWT callers hold their role's). */
export const scopedProcedure = (scope: KeyScope) =>
  protectedProcedure.use(({ ctx, next }) => {
    if (!hasScope(ctx.principal, scope)) {
      throw new TRPCError({ code: 'FORBIDDEN', message: `API key lacks the '${scope}' scope` });
    }
    return next();
  });

export const adminProcedure = protectedProcedure.use(({ ctx, next }) => {
  if (ctx.principal.role !== 'admin' || !hasScope(ctx.principal, 'admin')) {
    throw new TRPCError({ code: 'FORBIDDEN', message: 'admin only' });
  }
  return next();
});

/** The audit row's who/what/which request: the caller, the procedure path, the request id. */
function auditStamp(ctx: { principal: UserPrincipal; requestId: string }, path: string) {
  const audit: AuditStamp = {
    actorId: ctx.principal.userId,
    action: path,
    requestId: ctx.requestId || null,
  };
  return { audit };
}

/** A protected procedure whose service writes one audit row (`ctx.audit`) with its change. */
export const auditedProcedure = protectedProcedure.use(({ ctx, path, next }) =>
  next({ ctx: auditStamp(ctx, path) }),
);

/** An admin procedure whose service writes one audit row (`ctx.audit`) with its change. */
export const auditedAdminProcedure = adminProcedure.use(({ ctx, path, next }) =>
  next({ ctx: auditStamp(ctx, path) }),
);
