import { isDatabaseUnavailable } from '@tollgate/db';

/** Every way a domain operation refuses; the api layer maps each to one status. */
export const domainErrorCodes = [
  'bad_request',
  'unauthenticated',
  'forbidden',
  'not_found',
  'conflict',
  'invalid_credentials',
  'too_many_attempts',
  'token_invalid',
  'token_expired',
  'token_reused',
  'key_invalid',
  'key_revoked',
  'key_expired',
  'user_disabled',
  'model_not_found',
  'model_not_allowed',
  'budget_exceeded',
  'rate_limit_exceeded',
  'upstream_rate_limited',
  'upstream_error',
  'upstream_timeout',
  'unprocessable',
  'payload_too_large',
  'unavailable',
] as const;
export type DomainErrorCode = (typeof domainErrorCodes)[number];

export class DomainError extends Error {
  readonly code: DomainErrorCode;
  /** Seconds the caller should wait before retrying (429s). */
  readonly retryAfter: number | undefined;
  /** The input field at fault, when one is. */
  readonly param: string | undefined;
  constructor(
    code: DomainErrorCode,
    message: string,
    opts: { retryAfter?: number; param?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'DomainError';
    this.code = code;
    this.retryAfter = opts.retryAfter;
    this.param = opts.param;
  }
}

/**
 * The DomainError behind `err`: itself, or `unavailable` (503, retry in a second) when the
 * database is unreachable or restarting; undefined for anything else (a bug: 500).
 */
export function asDomainError(err: unknown): DomainError | undefined {
  if (err instanceof DomainError) return err;
  if (isDatabaseUnavailable(err)) {
    return new DomainError('unavailable', 'the database is unavailable; retry shortly', {
      retryAfter: 1,
      cause: err,
    });
  }
  return undefined;
}

/** A Postgres unique violation (23505): the database's answer to a duplicate. */
export function isUniqueViolation(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: string }).code === '23505';
}
