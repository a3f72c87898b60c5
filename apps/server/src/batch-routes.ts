import { Readable } from 'node:stream';
import {
  BatchCreateInput,
  type Context,
  createCaller,
  domainCause,
  parseBatchJsonl,
} from '@tollgate/api';
import { streamResults, type UserPrincipal } from '@tollgate/core';
import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BATCH_UPLOAD_LIMIT } from './body-limits.ts';
import { rememberPrincipal } from './request-principal.ts';

type Options = { createContext: (opts: { req: FastifyRequest }) => Promise<Context> };

/** The bridge's flat error body; the /api scope's onSend wraps it into `{ error: {…} }`. */
function sendError(
  reply: FastifyReply,
  status: number,
  reason: string,
  message: string,
  issues?: unknown,
) {
  return reply.code(status).send({
    code: reason.toUpperCase(),
    message,
    ...(issues !== undefined ? { issues } : {}),
    data: { reason },
  });
}

function sendCaught(reply: FastifyReply, e: unknown, rewrite?: (m: string) => string) {
  const trpc =
    e instanceof TRPCError ? e : new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: e });
  const status = getHTTPStatusCodeFromError(trpc);
  if (status >= 500 && !domainCause(e)) throw e;
  const cause = domainCause(trpc);
  const reason = cause?.code ?? trpc.code.toLowerCase();
  return sendError(reply, status, reason, rewrite ? rewrite(trpc.message) : trpc.message);
}

/** "items.3.messages: …" → "items[3].messages: …": the zod issue that names the bad item. */
function describeIssue(issue: { path: PropertyKey[]; message: string } | undefined): string {
  if (!issue) return 'invalid body';
  const path = issue.path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
    .join('');
  return `${path ? `${path}: ` : ''}${issue.message}`;
}

/**
 * REST routes of batches that the bridge cannot serve: the upload (JSON or JSONL, 200 MiB) and the
 * results as one JSONL stream. Both run the same procedures (auth, scopes, ownership) first.
 */
export async function batchRoutes(api: FastifyInstance, opts: Options): Promise<void> {
  api.addContentTypeParser(
    ['application/x-ndjson', 'application/jsonl'],
    { parseAs: 'string', bodyLimit: BATCH_UPLOAD_LIMIT },
    (_req, body, done) => done(null, body),
  );

  api.post('/api/batches', { bodyLimit: BATCH_UPLOAD_LIMIT }, async (req, reply) => {
    const ctx = { ...(await opts.createContext({ req })), surface: 'rest' as const };
    rememberPrincipal(req, ctx.principal);
    const caller = createCaller(ctx);
    let input: unknown;
    let lines: number[] | undefined;
    if (typeof req.body === 'string') {
      const parsed = parseBatchJsonl(req.body);
      if ('error' in parsed) return sendError(reply, 400, 'bad_request', parsed.error);
      const q = req.query as { webhookUrl?: string };
      input = { items: parsed.items, ...(q.webhookUrl ? { webhookUrl: q.webhookUrl } : {}) };
      lines = parsed.lines;
    } else {
      const r = BatchCreateInput.safeParse(req.body);
      if (!r.success) {
        return sendError(
          reply,
          400,
          'bad_request',
          describeIssue(r.error.issues[0]),
          r.error.issues,
        );
      }
      input = r.data;
    }
    try {
      return await caller.batches.create(input as never);
    } catch (e) {
      // A refusal naming an item (an unknown model) names its JSONL line too.
      return sendCaught(reply, e, (m) =>
        lines ? m.replace(/^items\[(\d+)\]/, (_s, i) => `line ${lines[Number(i)]} (item ${i})`) : m,
      );
    }
  });

  api.get('/api/batches/:id/results', async (req, reply) => {
    const ctx = { ...(await opts.createContext({ req })), surface: 'rest' as const };
    rememberPrincipal(req, ctx.principal);
    const { id } = req.params as { id: string };
    try {
      // Credentials, the `read` scope and ownership, exactly as batches.get.
      await createCaller(ctx).batches.get({ id });
    } catch (e) {
      return sendCaught(reply, e);
    }
    const principal = ctx.principal as UserPrincipal;
    async function* body() {
      let chunk = '';
      for await (const line of streamResults(ctx, principal, id)) {
        chunk += `${JSON.stringify(line)}\n`;
        if (chunk.length >= 64 * 1024) {
          yield chunk;
          chunk = '';
        }
      }
      if (chunk) yield chunk;
    }
    return reply.type('application/x-ndjson').send(Readable.from(body()));
  });
}
