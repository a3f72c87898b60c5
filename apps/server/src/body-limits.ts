import { Transform, type TransformCallback } from 'node:stream';
import { appRouter } from '@tollgate/api';
import { DomainError } from '@tollgate/core';
import { getErrorShape, type TRPC_ERROR_CODE_KEY, TRPCError } from '@trpc/server';
import {
  errorCodes,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';

const MiB = 1024 * 1024;
/** PRODUCT "Bad input": model calls carry long prompts (and images). */
export const MODEL_CALL_BODY_LIMIT = 20 * MiB;
export const DEFAULT_BODY_LIMIT = 1 * MiB;
/** PRODUCT "Bad input": a batch upload (50,000 items, JSON or JSONL). */
export const BATCH_UPLOAD_LIMIT = 200 * MiB;
const batchUploads = new Set(['/api/batches']);
const trpcBatchUploads = new Set(['batches.create']);

const restModelCalls = new Set(['/api/chat/completions', '/api/embeddings']);
const trpcModelCalls = new Set(['chat.complete', 'embeddings.create']);

function procedures(pathname: string): string[] {
  let path = pathname.slice('/trpc/'.length);
  try {
    path = decodeURIComponent(path);
  } catch {
    // A malformed escape names no model-call procedure: the default limit applies.
  }
  return path.split(',');
}

/**
 * The body limit of a /api or /trpc request, by what it calls; undefined elsewhere (those routes
 * carry their own `bodyLimit`, e.g. /v1). A batched /trpc call gets 20 MiB only when every
 * procedure in it is a model call.
 */
export function bodyLimitFor(url: string): number | undefined {
  const q = url.indexOf('?');
  const pathname = q === -1 ? url : url.slice(0, q);
  if (pathname.startsWith('/api/')) {
    if (batchUploads.has(pathname)) return BATCH_UPLOAD_LIMIT;
    return restModelCalls.has(pathname) ? MODEL_CALL_BODY_LIMIT : DEFAULT_BODY_LIMIT;
  }
  if (pathname.startsWith('/trpc/')) {
    const called = procedures(pathname);
    if (called.every((p) => trpcBatchUploads.has(p))) return BATCH_UPLOAD_LIMIT;
    return called.every((p) => trpcModelCalls.has(p)) ? MODEL_CALL_BODY_LIMIT : DEFAULT_BODY_LIMIT;
  }
  return undefined;
}

const tooLarge = () => new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();

/** Counts the bytes that really arrive (chunked bodies declare no length) and fails past `limit`. */
function byteLimit(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      seen += chunk.length;
      if (seen > limit) done(tooLarge());
      else done(null, chunk);
    },
  });
}

/** tRPC's own HTTP error body (with our errorFormatter), for errors Fastify raises before tRPC runs. */
function trpcErrorBody(req: FastifyRequest, status: number, message: string): unknown {
  const code: TRPC_ERROR_CODE_KEY =
    status === 413
      ? 'PAYLOAD_TOO_LARGE'
      : status === 415
        ? 'UNSUPPORTED_MEDIA_TYPE'
        : 'BAD_REQUEST';
  const url = req.url;
  const q = url.indexOf('?');
  const pathname = q === -1 ? url : url.slice(0, q);
  const paths = procedures(pathname);
  const bodies = paths.map((path) => {
    const cause =
      status === 413
        ? new DomainError('payload_too_large', message)
        : new DomainError('bad_request', message);
    const error = new TRPCError({ code, message, cause });
    return {
      error: getErrorShape({
        config: appRouter._def._config,
        error,
        type: 'unknown',
        path,
        input: undefined,
        ctx: undefined,
      }),
    };
  });
  return new URLSearchParams(q === -1 ? '' : url.slice(q + 1)).get('batch') === '1'
    ? bodies
    : bodies[0];
}

/**
 * Per-route body limits for /api and /trpc (one wildcard route each, so Fastify's route
 * `bodyLimit` cannot tell chat from keys): those routes accept up to 20 MiB at Fastify's level and
 * a preParsing hook applies the limit of what is called, from content-length or, for chunked
 * bodies, by counting. Call before registering the routes (onRoute only sees later routes).
 */
export function installBodyLimits(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (route.bodyLimit !== undefined) return;
    if (route.url.startsWith('/api/') || route.url.startsWith('/trpc/')) {
      // The preParsing hook below applies each path's own limit; this is only the ceiling.
      route.bodyLimit = route.url.startsWith('/trpc/') ? BATCH_UPLOAD_LIMIT : MODEL_CALL_BODY_LIMIT;
    }
  });

  // Callback style: it runs on every request, and an async hook costs a promise and a microtask.
  app.addHook('preParsing', (req, _reply, payload, done) => {
    const limit = bodyLimitFor(req.url);
    if (limit === undefined) return done(null, payload);
    const declared = req.headers['content-length'];
    if (declared !== undefined) {
      // Node's parser never delivers more than content-length bytes: the header is the truth.
      if (Number(declared) > limit) return done(tooLarge());
      return done(null, payload);
    }
    if (req.headers['transfer-encoding'] === undefined) return done(null, payload);
    return done(null, payload.pipe(byteLimit(limit)));
  });

  // Fastify-level refusals on /trpc (body too large, unsupported media type) in tRPC's error
  // shape; everything else goes on to Fastify's default handler unchanged.
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const status = err.statusCode ?? 500;
    if (!req.url.startsWith('/trpc/') || status < 400 || status >= 500) throw err;
    return reply.code(status).send(trpcErrorBody(req, status, err.message));
  });
}
