import { toTRPCError } from '@tollgate/api';
import { asDomainError, DomainError, type DomainErrorCode } from '@tollgate/core';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';

/** Which wire format a /v1 route speaks; decides the error body shape. */
export type CompatSurface = 'openai' | 'anthropic';

/** A refusal, ready to be written in either surface's shape. */
export type CompatError = {
  status: number;
  /** Tollgate's machine-readable code (OpenAI `code`); the DomainError code when there is one. */
  code: string;
  message: string;
  param: string | null;
  /** Seconds, for `retry-after` on 429. */
  retryAfter: number | undefined;
};

export type OpenAIErrorBody = {
  error: { message: string; type: string; param: string | null; code: string | null };
};
/**
 * Anthropic's shape; `details.error_code` carries Tollgate's code, where the Anthropic SDK reads
 * its stable code (`err.errorCode`), so callers can tell budget_exceeded from
 * upstream_rate_limited although both are a `rate_limit_error`.
 */
export type AnthropicErrorBody = {
  type: 'error';
  error: { type: string; message: string; details: { error_code: string } };
};

/** OpenAI's `type` per status, as api.openai.com uses them. */
export function openaiErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/** Anthropic's `type` per status (docs.anthropic.com/en/api/errors). */
export function anthropicErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 503 || status === 529) return 'overloaded_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

export function fromDomainError(e: DomainError): CompatError {
  return {
    status: getHTTPStatusCodeFromError(toTRPCError(e)),
    code: e.code,
    message: e.message,
    param: e.param ?? null,
    retryAfter: e.retryAfter,
  };
}

export function compatError(
  code: DomainErrorCode,
  message: string,
  opts: { param?: string } = {},
): CompatError {
  return fromDomainError(new DomainError(code, message, opts));
}

/** Anything thrown by a handler → a CompatError; unknown errors become an opaque 500. */
export function toCompatError(e: unknown): CompatError {
  // asDomainError: a lost database connection is `unavailable` (503), not a 500.
  const domain = asDomainError(e);
  if (domain) return fromDomainError(domain);
  const fastify = fastifyClientError(e);
  if (fastify) return fastify;
  return {
    status: 500,
    code: 'internal_error',
    message: 'internal error',
    param: null,
    retryAfter: undefined,
  };
}

/** Fastify's own 4xx (malformed JSON, body too large, wrong content type), with a clean message. */
function fastifyClientError(e: unknown): CompatError | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const { statusCode, code, message } = e as {
    statusCode?: unknown;
    code?: unknown;
    message?: unknown;
  };
  if (typeof statusCode !== 'number' || statusCode < 400 || statusCode >= 500) return undefined;
  if (statusCode === 413)
    return {
      status: 413,
      code: 'payload_too_large',
      // body-limits.ts names the route's own limit; Fastify's bare message otherwise.
      message:
        typeof message === 'string' && message.startsWith('request body too large')
          ? message
          : 'request body too large: 20 MiB for model calls, 200 MiB for file uploads',
      param: null,
      retryAfter: undefined,
    };
  const text = typeof message === 'string' ? message : 'bad request';
  return {
    status: statusCode,
    code: statusCode === 415 ? 'unsupported_media_type' : 'bad_request',
    message:
      code === 'FST_ERR_CTP_INVALID_JSON_BODY' || /JSON/.test(text)
        ? `We could not parse the JSON body of your request: ${text}`
        : text,
    param: null,
    retryAfter: undefined,
  };
}

export function openaiErrorBody(e: CompatError): OpenAIErrorBody {
  return {
    error: { message: e.message, type: openaiErrorType(e.status), param: e.param, code: e.code },
  };
}

export function anthropicErrorBody(e: CompatError): AnthropicErrorBody {
  return {
    type: 'error',
    error: {
      type: anthropicErrorType(e.status),
      message: e.message,
      details: { error_code: e.code },
    },
  };
}

export function errorBody(
  surface: CompatSurface,
  e: CompatError,
): OpenAIErrorBody | AnthropicErrorBody {
  return surface === 'anthropic' ? anthropicErrorBody(e) : openaiErrorBody(e);
}
