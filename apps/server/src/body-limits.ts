import { type Duplex, type Readable, Transform, type TransformCallback } from 'node:stream';
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
 * carry their own `bodyLimit`, e.g. /v1, which the preParsing hook applies). A batched /trpc call
 * gets 20 MiB only when every procedure in it is a model call.
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

/** Fastify's own 413 error, saying what this route accepts (every surface shows the message). */
function tooLarge(limit: number): FastifyError {
  const err = new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
  const size = limit % MiB === 0 ? `${limit / MiB} MiB` : `${limit} bytes`;
  err.message = `request body too large: this route accepts at most ${size}`;
  return err;
}

/** Sockets still reading the rest of an upload already answered 413 (see the onError hook). */
const answered = new WeakSet<Duplex>();

/**
 * Counts the bytes that really arrive (chunked bodies declare no length) and fails past `limit`.
 * The rest of the upload is then read and thrown away (`resume()` with no listener): left paused,
 * the request was never finished and the client, still writing, saw EPIPE instead of its 413.
 * Reading costs no memory (nothing listens, nothing is kept); Node's requestTimeout
 * (HTTP_REQUEST_TIMEOUT_MS) bounds how long an endless upload can keep the socket. The connection
 * is kept open meanwhile (the onError hook below): see there.
 */
function byteLimit(source: Readable, limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      seen += chunk.length;
      if (seen <= limit) return done(null, chunk);
      source.unpipe(this);
      source.resume();
      done(tooLarge(limit));
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
 * Body limits for every surface, applied by one preParsing hook from content-length (refused
 * before a byte of the body is read) or, for chunked bodies, by counting: on /api and /trpc (one
 * wildcard route each, so Fastify's route `bodyLimit` cannot tell chat from keys) the limit of
 * what is called, elsewhere the route's own `bodyLimit` (/v1: 20 MiB model calls, 200 MiB
 * /v1/files, 1 MiB the rest). Past it the answer is 413 in the surface's shape, sent at once, and
 * the rest of the upload is read and discarded on a connection kept open, so a client still
 * writing reads its 413. Call before registering the routes (onRoute only sees later routes).
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
    const declared = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (declared === undefined && !chunked) return done(null, payload);
    const limit = bodyLimitFor(req.url) ?? req.routeOptions.bodyLimit;
    if (declared !== undefined) {
      // Node's parser never delivers more than content-length bytes: the header is the truth.
      // The unread body is dumped by Node after the answer (the connection stays open).
      if (Number(declared) > limit) return done(tooLarge(limit));
      return done(null, payload);
    }
    return done(null, payload.pipe(byteLimit(payload, limit)));
  });

  // Fastify marks a body it failed to read `connection: close` ("the client may send more
  // data"), and Node then destroys the socket as soon as the 413 is written: the unread upload
  // still arriving makes the kernel answer with a reset, and a client still writing sees EPIPE or
  // ECONNRESET before it reads the 413 (a few 50 MB uploads in a hundred, here). The rest of the
  // body is being discarded (byteLimit above, Node's own dump otherwise), so the connection can
  // stay open as for any request answered early: Node's parser reads the upload to its end, then
  // the connection is idle (and reusable) like any other. Only the 413 is changed: other parse
  // errors have read the whole body already.
  app.addHook('onError', (req, reply, err, done) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      reply.removeHeader('connection');
      const socket = req.raw.socket;
      if (!req.raw.complete && socket) {
        answered.add(socket);
        req.raw.once('end', () => answered.delete(socket));
      }
    }
    done();
  });
  // An upload that never ends is cut by Node's requestTimeout, whose 'clientError' would write a
  // 408 after the 413 already sent for that request: the socket is closed without a second answer.
  // Prepended, so Fastify's own handler finds the socket destroyed and writes nothing either.
  app.server.prependListener('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && answered.has(socket)) socket.destroy();
  });

  // Fastify-level refusals on /trpc (body too large, unsupported media type) in tRPC's error
  // shape; everything else goes on to Fastify's default handler unchanged.
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const status = err.statusCode ?? 500;
    if (!req.url.startsWith('/trpc/') || status < 400 || status >= 500) throw err;
    return reply.code(status).send(trpcErrorBody(req, status, err.message));
  });
}
