import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  type BatchDetail,
  type BatchItemInput,
  type BatchResultLine,
  cancelBatch,
  DomainError,
  expiresAt,
  type GatewayChatResult,
  getBatch,
  getFileContent,
  streamResults,
  submitBatch,
  type UserPrincipal,
} from '@tollgate/core';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { CompatKit } from './kit.ts';
import { chatCompletionBodySchema } from './openai.schemas.ts';
import { openaiToCanonical, toChatCompletion } from './openai.translate.ts';

/** The only endpoint a batch may run (what /v1/files accepts in its lines). */
const ENDPOINT = '/v1/chat/completions';
const WINDOW = '24h';

/** POST /v1/batches (OpenAI's body; endpoint and window are checked after parsing). */
export const createBatchBodySchema = z.object({
  input_file_id: z.string().min(1),
  endpoint: z.string(),
  completion_window: z.string(),
  metadata: z.record(z.string().max(64), z.string().max(512)).nullish(),
});

type Link = {
  input_file_id: string;
  endpoint: string;
  completion_window: string;
  metadata: Record<string, string> | null;
};

// OpenAI-shaped ids derived from the Tollgate batch's uuid: no second id to store or leak.
const hex = (uuid: string) => uuid.replaceAll('-', '');
const uuidOf = (h: string) =>
  `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
export const openaiBatchId = (uuid: string) => `batch_${hex(uuid)}`;
const outputFileId = (uuid: string) => `file-batchout${hex(uuid)}`;
const errorFileId = (uuid: string) => `file-batcherr${hex(uuid)}`;

function batchUuid(id: string): string {
  const m = /^batch_([0-9a-f]{32})$/.exec(id);
  if (!m?.[1]) throw new DomainError('not_found', `batch '${id}' not found`);
  return uuidOf(m[1]);
}

const RESULT_FILE = /^file-batch(out|err)([0-9a-f]{32})$/;

/** Is this the id of a batch's output or error file (generated from its results on read)? */
export function isBatchResultFileId(id: string): boolean {
  return RESULT_FILE.test(id);
}

const secs = (iso: string | null) => (iso ? Math.floor(Date.parse(iso) / 1000) : null);

function openaiStatus(b: BatchDetail) {
  switch (b.status) {
    case 'queued':
    case 'running':
      return 'in_progress' as const;
    case 'cancelled':
      return b.finishedAt ? ('cancelled' as const) : ('cancelling' as const);
    // Every line was validated at create, so the batch ran: like OpenAI, a batch whose requests
    // all failed is `completed`, its failures in the error file.
    default:
      return 'completed' as const;
  }
}

function toOpenAIBatch(b: BatchDetail, link: Link) {
  const status = openaiStatus(b);
  const ended = b.finishedAt !== null;
  const failed = b.counts.failed + b.counts.cancelled;
  const created = secs(b.createdAt) as number;
  return {
    id: openaiBatchId(b.id),
    object: 'batch' as const,
    endpoint: link.endpoint,
    errors: null,
    input_file_id: link.input_file_id,
    completion_window: link.completion_window,
    status,
    output_file_id: ended && b.counts.succeeded > 0 ? outputFileId(b.id) : null,
    error_file_id: ended && failed > 0 ? errorFileId(b.id) : null,
    created_at: created,
    in_progress_at: secs(b.startedAt) ?? created,
    expires_at: created + 24 * 3600,
    finalizing_at: null,
    completed_at: status === 'completed' ? secs(b.finishedAt) : null,
    failed_at: null,
    expired_at: null,
    cancelling_at: secs(b.cancelledAt),
    cancelled_at: status === 'cancelled' ? secs(b.finishedAt) : null,
    request_counts: { total: b.counts.total, completed: b.counts.succeeded, failed },
    metadata: link.metadata,
  };
}

/** The OpenAI part of a batch; a Tollgate batch made elsewhere is not an OpenAI batch. */
async function linkOf(kit: CompatKit, uuid: string): Promise<Link> {
  const link = await kit.deps.db
    .selectFrom('openai_batches')
    .select(['input_file_id', 'endpoint', 'completion_window', 'metadata'])
    .where('batch_id', '=', uuid)
    .executeTakeFirst();
  if (!link) throw new DomainError('not_found', `batch '${openaiBatchId(uuid)}' not found`);
  return link;
}

async function viewBatch(kit: CompatKit, who: UserPrincipal, id: string) {
  const uuid = batchUuid(id);
  const b = await getBatch(kit.deps, who, uuid); // ownership: someone else's is not_found
  return toOpenAIBatch(b, await linkOf(kit, uuid));
}

/** The input file's lines as batch items, or a 400 naming the first bad line. */
function itemsOf(text: string): { items: BatchItemInput[]; lineOf: number[] } {
  const items: BatchItemInput[] = [];
  const lineOf: number[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    if (raw.trim() === '') continue;
    const where = `input file line ${i + 1}`;
    let line: { custom_id?: unknown; method?: unknown; url?: unknown; body?: unknown };
    try {
      line = JSON.parse(raw);
    } catch {
      throw new DomainError('bad_request', `${where}: not valid JSON`, { param: 'input_file_id' });
    }
    if (line.url !== ENDPOINT || line.method !== 'POST')
      throw new DomainError('bad_request', `${where}: must be POST ${ENDPOINT}`, {
        param: 'input_file_id',
      });
    const parsed = chatCompletionBodySchema.safeParse(line.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new DomainError(
        'bad_request',
        `${where}: body.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
        { param: 'input_file_id' },
      );
    }
    if (parsed.data.stream)
      throw new DomainError('bad_request', `${where}: stream is not supported in a batch`, {
        param: 'input_file_id',
      });
    items.push({ ...openaiToCanonical(parsed.data), customId: String(line.custom_id) });
    lineOf.push(i + 1);
  }
  return { items, lineOf };
}

/** A stored batch result (Tollgate's chat result) → OpenAI's chat.completion object. */
function completionOf(response: unknown, requestId: string) {
  const r = response as Omit<GatewayChatResult, 'created'> & { createdAt: string };
  return toChatCompletion({
    ...r,
    requestId: r.requestId ?? requestId,
    created: Math.floor(Date.parse(r.createdAt) / 1000),
  } as GatewayChatResult);
}

function outputLine(uuid: string, l: BatchResultLine): string {
  const id = `batch_req_${hex(uuid)}_${l.index}`;
  if (l.status === 'succeeded') {
    const requestId = l.requestId ?? id;
    return `${JSON.stringify({
      id,
      custom_id: l.customId,
      response: {
        status_code: 200,
        request_id: requestId,
        body: completionOf(l.response, requestId),
      },
      error: null,
    })}\n`;
  }
  const error =
    l.status === 'cancelled'
      ? { code: 'batch_cancelled', message: 'the batch was cancelled before this request ran' }
      : { code: l.error?.code ?? 'error', message: l.error?.message ?? 'the request failed' };
  return `${JSON.stringify({ id, custom_id: l.customId, response: null, error })}\n`;
}

/** The lines of a batch's output (`out`) or error (`err`) file, streamed from its results. */
async function* resultLines(
  kit: CompatKit,
  who: UserPrincipal,
  uuid: string,
  kind: 'out' | 'err',
): AsyncGenerator<string> {
  for await (const l of streamResults(kit.deps, who, uuid)) {
    if ((l.status === 'succeeded') === (kind === 'out')) yield outputLine(uuid, l);
  }
}

/** Resolves a result file id to its batch, checking ownership and that the file exists. */
async function resultFile(kit: CompatKit, who: UserPrincipal, id: string) {
  const m = RESULT_FILE.exec(id);
  const notFound = new DomainError('not_found', `file '${id}' not found`);
  if (!m?.[2]) throw notFound;
  const kind = m[1] as 'out' | 'err';
  const uuid = uuidOf(m[2]);
  let b: BatchDetail;
  try {
    b = await getBatch(kit.deps, who, uuid);
    await linkOf(kit, uuid);
  } catch (e) {
    if (e instanceof DomainError && e.code === 'not_found') throw notFound;
    throw e;
  }
  const shown = toOpenAIBatch(b, {
    input_file_id: '',
    endpoint: ENDPOINT,
    completion_window: WINDOW,
    metadata: null,
  });
  if ((kind === 'out' ? shown.output_file_id : shown.error_file_id) !== id) throw notFound;
  return { b, kind, uuid };
}

/** GET /v1/files/{id} of a batch's output or error file (its size is counted from its lines). */
export async function batchResultFile(kit: CompatKit, who: UserPrincipal, id: string) {
  const { b, kind, uuid } = await resultFile(kit, who, id);
  let bytes = 0;
  for await (const l of resultLines(kit, who, uuid, kind)) bytes += Buffer.byteLength(l);
  const expires = expiresAt(new Date(b.finishedAt as string), kit.deps.config.batchRetentionDays);
  return {
    id,
    object: 'file' as const,
    bytes,
    created_at: secs(b.finishedAt) as number,
    filename: `${openaiBatchId(uuid)}_${kind === 'out' ? 'output' : 'error'}.jsonl`,
    purpose: 'batch_output',
    status: 'processed' as const,
    // The file is made from the batch's results, which go with the batch (BATCH_RETENTION_DAYS).
    expires_at: expires ? Math.floor(expires.getTime() / 1000) : null,
    status_details: null,
  };
}

/** GET /v1/files/{id}/content of a batch's output or error file: JSONL, streamed. */
export async function batchResultContent(
  kit: CompatKit,
  who: UserPrincipal,
  id: string,
): Promise<Readable> {
  const { kind, uuid } = await resultFile(kit, who, id);
  return Readable.from(resultLines(kit, who, uuid, kind));
}

/** OpenAI Batches over Tollgate batches: POST/GET /v1/batches, GET one, POST cancel. */
export function registerBatchesRoutes(app: FastifyInstance, kit: CompatKit): void {
  const { deps } = kit;

  app.post('/batches', async (req, reply) => {
    const who = kit.principal(req);
    const parsed = createBatchBodySchema.safeParse(req.body);
    if (!parsed.success) return kit.sendError(reply, 'openai', kit.invalidBody(parsed.error));
    const body = parsed.data;
    if (body.endpoint !== ENDPOINT)
      throw new DomainError('bad_request', `endpoint must be ${ENDPOINT}`, { param: 'endpoint' });
    if (body.completion_window !== WINDOW)
      throw new DomainError('bad_request', `completion_window must be '${WINDOW}'`, {
        param: 'completion_window',
      });
    const { file, content } = await getFileContent(deps, who, body.input_file_id);
    if (file.purpose !== 'batch')
      throw new DomainError('bad_request', "the input file's purpose must be 'batch'", {
        param: 'input_file_id',
      });
    const { items, lineOf } = itemsOf(content.toString('utf8'));
    const metadata = body.metadata ?? null;
    // The same create again (same file, window and metadata) gives back the same batch.
    const key = `openai-batch:${file.id}:${createHash('sha256')
      .update(JSON.stringify([body.completion_window, metadata]))
      .digest('hex')
      .slice(0, 16)}`;
    let b: BatchDetail;
    try {
      b = await submitBatch(deps, who, items, { idempotencyKey: key });
    } catch (e) {
      // Tollgate names the item (`items[3].model: …`); the caller knows it as a line of its file.
      if (e instanceof DomainError && e.code === 'bad_request') {
        const m = /^items\[(\d+)\]\.(.*)$/s.exec(e.message);
        const where = m ? `input file line ${lineOf[Number(m[1])]}: body.${m[2]}` : e.message;
        throw new DomainError('bad_request', where, { param: 'input_file_id' });
      }
      throw e;
    }
    const link: Link = {
      input_file_id: file.id,
      endpoint: ENDPOINT,
      completion_window: body.completion_window,
      metadata,
    };
    await deps.db
      .insertInto('openai_batches')
      .values({
        batch_id: b.id,
        input_file_id: file.id,
        endpoint: ENDPOINT,
        completion_window: body.completion_window,
        metadata: metadata === null ? null : JSON.stringify(metadata),
      })
      .onConflict((oc) => oc.column('batch_id').doNothing())
      .execute();
    return reply.send(toOpenAIBatch(b, link));
  });

  app.get<{ Params: { id: string } }>('/batches/:id', async (req) =>
    viewBatch(kit, kit.principal(req), req.params.id),
  );

  app.post<{ Params: { id: string } }>('/batches/:id/cancel', async (req) => {
    const who = kit.principal(req);
    const uuid = batchUuid(req.params.id);
    await getBatch(deps, who, uuid);
    const link = await linkOf(kit, uuid);
    return toOpenAIBatch(await cancelBatch(deps, who, uuid), link);
  });

  app.get<{ Querystring: { after?: string; limit?: string } }>('/batches', async (req) => {
    const who = kit.principal(req);
    const limit = Math.min(Math.max(Math.trunc(Number(req.query.limit ?? 20)) || 20, 1), 100);
    let q = deps.db
      .selectFrom('openai_batches as o')
      .innerJoin('batches as b', 'b.id', 'o.batch_id')
      .select(['b.id', 'b.created_at'])
      .where('b.user_id', '=', who.userId)
      .orderBy('b.created_at', 'desc')
      .orderBy('b.id', 'desc')
      .limit(limit + 1);
    if (req.query.after !== undefined) {
      const after = await deps.db
        .selectFrom('batches')
        .select(['id', 'created_at'])
        .where('id', '=', batchUuid(req.query.after))
        .where('user_id', '=', who.userId)
        .executeTakeFirst();
      if (!after)
        throw new DomainError('bad_request', `unknown batch '${req.query.after}'`, {
          param: 'after',
        });
      q = q.where((eb) =>
        eb.or([
          eb('b.created_at', '<', after.created_at),
          eb.and([eb('b.created_at', '=', after.created_at), eb('b.id', '<', after.id)]),
        ]),
      );
    }
    const rows = await q.execute();
    const shown = rows.slice(0, limit);
    const data = [];
    for (const r of shown) data.push(await viewBatch(kit, who, openaiBatchId(r.id)));
    return {
      object: 'list' as const,
      data,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
      has_more: rows.length > limit,
    };
  });
}
