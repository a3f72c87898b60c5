import type {
  CallContext,
  Deps,
  GatewayStream,
  GatewayStreamEvent,
  UserPrincipal,
} from '@tollgate/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { CompatError, CompatSurface } from './errors.ts';

/** Turns gateway stream events into one surface's SSE frames. */
export type StreamEncoder = {
  start(): string[];
  event(e: GatewayStreamEvent): string[];
  end(): string[];
};

/**
 * What the /v1 scope (compat.plugin.ts) hands the route files it registers: its authentication
 * result, error rendering and stream plumbing, so every /v1 route behaves the same.
 */
export type CompatKit = {
  deps: Deps;
  principal(req: FastifyRequest): UserPrincipal;
  sendError(reply: FastifyReply, surface: CompatSurface, e: CompatError): FastifyReply;
  invalidBody(error: z.ZodError): CompatError;
  clientAbort(reply: FastifyReply): AbortController;
  callContext(
    req: FastifyRequest,
    reply: FastifyReply,
    surface: CompatSurface,
    signal: AbortSignal,
  ): CallContext;
  pipeStream(
    req: FastifyRequest,
    reply: FastifyReply,
    stream: GatewayStream,
    signal: AbortSignal,
    enc: StreamEncoder,
    errorFrame: (e: CompatError) => string,
  ): Promise<void>;
};

/** An upstream header value as one string (Node gives repeated headers as arrays). */
export function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}
