import { DomainError, type DomainErrorCode } from '@tollgate/core';
import { TRPCError } from '@trpc/server';

/** The one table from domain refusals to tRPC codes; HTTP statuses follow from it everywhere. */
export const trpcCodeByDomainCode = {
  bad_request: 'BAD_REQUEST',
  unauthenticated: 'UNAUTHORIZED',
  invalid_credentials: 'UNAUTHORIZED',
  token_invalid: 'UNAUTHORIZED',
  token_expired: 'UNAUTHORIZED',
  token_reused: 'UNAUTHORIZED',
  key_invalid: 'UNAUTHORIZED',
  key_revoked: 'UNAUTHORIZED',
  key_expired: 'UNAUTHORIZED',
  user_disabled: 'UNAUTHORIZED',
  forbidden: 'FORBIDDEN',
  not_found: 'NOT_FOUND',
  model_not_found: 'NOT_FOUND',
  model_not_allowed: 'FORBIDDEN',
  conflict: 'CONFLICT',
  unprocessable: 'UNPROCESSABLE_CONTENT',
  payload_too_large: 'PAYLOAD_TOO_LARGE',
  too_many_attempts: 'TOO_MANY_REQUESTS',
  budget_exceeded: 'TOO_MANY_REQUESTS',
  rate_limit_exceeded: 'TOO_MANY_REQUESTS',
  upstream_rate_limited: 'TOO_MANY_REQUESTS',
  upstream_error: 'BAD_GATEWAY',
  upstream_timeout: 'GATEWAY_TIMEOUT',
  unavailable: 'SERVICE_UNAVAILABLE',
} as const satisfies Record<DomainErrorCode, TRPCError['code']>;

export function toTRPCError(e: DomainError): TRPCError {
  return new TRPCError({ code: trpcCodeByDomainCode[e.code], message: e.message, cause: e });
}

/** The domain error behind a tRPC error, if any. */
export function domainCause(e: unknown): DomainError | undefined {
  if (e instanceof DomainError) return e;
  if (e instanceof TRPCError && e.cause instanceof DomainError) return e.cause;
  return undefined;
}
