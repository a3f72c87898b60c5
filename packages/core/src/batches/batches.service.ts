import { createHash, randomUUID } from 'node:crypto';
import type { BatchItemStatus, BatchStatus, DB } from '@tollgate/db';
import type { ProviderName } from '@tollgate/providers';
import { type Kysely, type Selectable, sql } from 'kysely';
import type { UserPrincipal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';
import type { GatewayChatInput } from '../gateway/gateway.types.ts';
import { resolveModel, trimDecimal } from '../models/models.service.ts';
import type { Resolver } from '../net/ssrf-guard.ts';
import { type Page, type PageInput, pageParams } from '../pagination.ts';
import { checkWebhookUrl } from '../webhooks/webhooks.service.ts';

/** PRODUCT "Background work": a batch holds at most this many chat calls. */
export const MAX_BATCH_ITEMS = 50_000;
/** Items per `batch_chunk` job: one job's claim, calls and writes stay small and restartable. */
export const BATCH_CHUNK_SIZE = 100;
/** Idempotency keys are kept at least this long (PRODUCT: ≥ 24 h). */
export const IDEMPOTENCY_KEY_TTL_HOURS = 24;

/** One chat call of a batch: the chat parameters plus the caller's optional `customId`. */
export type BatchItemInput = GatewayChatInput & { customId?: string | undefined };

export type BatchCounts = {
  total: number;
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  cancelled: number;
};

export type WebhookAttempt = {
  attempt: number;
  statusCode: number | null;
  ok: boolean;
  error: string | null;
  durationMs: number;
  createdAt: string;
};

export type BatchView = {
  id: string;
  userId: string;
  status: BatchStatus;
  counts: BatchCounts;
  /** Exact decimal string: the sum of the billed request-log rows so far. */
  costUsd: string;
  webhookUrl: string | null;
  createdAt: string;
  startedAt: string | null;
  cancelledAt: string | null;
  finishedAt: string | null;
};

export type BatchDetail = BatchView & { webhookDeliveries: WebhookAttempt[] };

/** One line of a batch's results (PRODUCT wire details). */
export type BatchResultLine = {
  index: number;
  customId: string | null;
  status: 'succeeded' | 'failed' | 'cancelled';
  response?: unknown;
  error?: { code: string; message: string };
  requestId: string | null;
};

export type SubmitOptions = {
  idempotencyKey?: string | undefined;
  webhookUrl?: string | undefined;
  /** DNS for the webhook URL's check (tests play DNS with it); the system resolver otherwise. */
  resolve?: Resolver | undefined;
};

type BatchRow = Selectable<DB['batches']>;
const iso = (d: Date | null) => (d ? d.toISOString() : null);

function emptyCounts(total: number): BatchCounts {
  return { total, pending: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
}

function toView(r: BatchRow, counts: BatchCounts): BatchView {
  return {
    id: r.id,
    userId: r.user_id,
    status: r.status,
    counts,
    costUsd: trimDecimal(r.cost_usd) ?? '0',
    webhookUrl: r.webhook_url,
    createdAt: r.created_at.toISOString(),
    startedAt: iso(r.started_at),
    cancelledAt: iso(r.cancelled_at),
    finishedAt: iso(r.finished_at),
  };
}

async function countsOf(db: Kysely<DB>, batches: BatchRow[]): Promise<Map<string, BatchCounts>> {
  const out = new Map(batches.map((b) => [b.id, emptyCounts(b.total)]));
  if (batches.length === 0) return out;
  const rows = await db
    .selectFrom('batch_items')
    .select(['batch_id', 'status', (eb) => eb.fn.countAll<string>().as('n')])
    .where(
      'batch_id',
      'in',
      batches.map((b) => b.id),
    )
    .groupBy(['batch_id', 'status'])
    .execute();
  for (const r of rows) {
    const c = out.get(r.batch_id);
    if (c) c[r.status as BatchItemStatus] = Number(r.n);
  }
  return out;
}

/** The batch if the principal may see it (own, or any for an admin); else not_found. */
async function visibleBatch(
  db: Kysely<DB>,
  principal: UserPrincipal,
  id: string,
): Promise<BatchRow> {
  if (!UUID.test(id)) throw new DomainError('not_found', 'batch not found');
  let q = db.selectFrom('batches').selectAll().where('id', '=', id);
  if (principal.role !== 'admin') q = q.where('user_id', '=', principal.userId);
  const row = await q.executeTakeFirst();
  if (!row) throw new DomainError('not_found', 'batch not found');
  return row;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The hash an Idempotency-Key is bound to: the items as validated, in order, and the webhook. */
function requestHash(items: readonly BatchItemInput[], webhookUrl: string | undefined): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(webhookUrl ?? null));
  for (const item of items) {
    h.update('\n');
    h.update(JSON.stringify(item));
  }
  return h.digest('hex');
}

/** Every distinct model resolves to an enabled chat model of a configured provider. */
async function providersOf(
  deps: Pick<Deps, 'db' | 'providers'>,
  items: readonly BatchItemInput[],
): Promise<Map<string, string>> {
  const byModel = new Map<string, string>();
  for (let i = 0; i < items.length; i++) {
    const name = (items[i] as BatchItemInput).model;
    if (byModel.has(name)) continue;
    try {
      const m = await resolveModel(deps, name, 'chat');
      if (!deps.providers[m.provider as ProviderName]) {
        throw new DomainError('model_not_found', `model '${name}' is not available`);
      }
      byModel.set(name, m.provider);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      throw new DomainError('bad_request', `items[${i}].model: ${e.message}`, {
        param: `items.${i}.model`,
      });
    }
  }
  return byModel;
}

/** Enqueues the `batch_chunk` jobs of a batch: runs of one provider, round-robin over its queues. */
async function enqueueChunks(trx: Kysely<DB>, batchId: string, queuesPerProvider: number) {
  await sql`
    select graphile_worker.add_job('batch_chunk',
      json_build_object('batchId', ${batchId}::uuid, 'provider', c.provider, 'from', c.lo, 'to', c.hi),
      queue_name := 'batch:' || c.provider || ':' || ((c.n - 1) % ${queuesPerProvider}::int),
      max_attempts := 25)
    from (
      select provider, min(idx) as lo, max(idx) as hi,
        row_number() over (partition by provider order by min(idx)) as n
      from batch_items where batch_id = ${batchId}::uuid
      group by provider, idx / ${BATCH_CHUNK_SIZE}::int
    ) c`.execute(trx);
}

/**
 * Creates a batch of chat calls: everything is validated before anything is written, then the
 * batch, its items and their jobs are written in one transaction. With an Idempotency-Key the
 * same key and body give back the same batch (also to a concurrent second submit); the same key
 * with another body is refused (unprocessable).
 */
export async function submitBatch(
  deps: Pick<Deps, 'db' | 'providers' | 'config'>,
  principal: UserPrincipal,
  items: readonly BatchItemInput[],
  opts: SubmitOptions = {},
): Promise<BatchDetail> {
  if (items.length === 0) {
    throw new DomainError('bad_request', 'a batch needs at least one item', { param: 'items' });
  }
  if (items.length > MAX_BATCH_ITEMS) {
    throw new DomainError(
      'bad_request',
      `a batch holds at most ${MAX_BATCH_ITEMS} items (got ${items.length})`,
      { param: 'items' },
    );
  }
  const providers = await providersOf(deps, items);
  if (opts.webhookUrl !== undefined) {
    await checkWebhookUrl(deps, principal, opts.webhookUrl, opts.resolve);
  }
  const hash = opts.idempotencyKey !== undefined ? requestHash(items, opts.webhookUrl) : '';
  const batchId = randomUUID();

  const existing = await deps.db.transaction().execute(async (trx) => {
    if (opts.idempotencyKey !== undefined) {
      // A concurrent submit with the same key waits here on the primary key until this
      // transaction ends, then sees the committed row.
      const claimed = await trx
        .insertInto('idempotency_keys')
        .values({
          user_id: principal.userId,
          key: opts.idempotencyKey,
          request_hash: hash,
          batch_id: batchId,
        })
        .onConflict((oc) => oc.columns(['user_id', 'key']).doNothing())
        .returning('batch_id')
        .executeTakeFirst();
      if (!claimed) {
        const prior = await trx
          .selectFrom('idempotency_keys')
          .select(['batch_id', 'request_hash'])
          .where('user_id', '=', principal.userId)
          .where('key', '=', opts.idempotencyKey)
          .executeTakeFirstOrThrow();
        if (prior.request_hash !== hash) {
          throw new DomainError(
            'unprocessable',
            'this Idempotency-Key was used with a different request body',
            { param: 'Idempotency-Key' },
          );
        }
        return prior.batch_id;
      }
    }
    await trx
      .insertInto('batches')
      .values({
        id: batchId,
        user_id: principal.userId,
        key_id: principal.keyId,
        total: items.length,
        webhook_url: opts.webhookUrl ?? null,
      })
      .execute();
    // A thousand rows per statement: the whole input never becomes one giant parameter.
    for (let from = 0; from < items.length; from += 1000) {
      const rows: string[] = [];
      for (let i = from; i < Math.min(items.length, from + 1000); i++) {
        const { customId, ...request } = items[i] as BatchItemInput;
        rows.push(
          JSON.stringify({
            idx: i,
            custom_id: customId ?? null,
            provider: providers.get(request.model),
            request,
          }),
        );
      }
      await sql`
        insert into batch_items (batch_id, idx, custom_id, provider, request)
        select ${batchId}::uuid, v.idx, v.custom_id, v.provider, v.request
        from jsonb_to_recordset(${`[${rows.join(',')}]`}::jsonb)
          as v(idx integer, custom_id text, provider text, request jsonb)`.execute(trx);
    }
    await enqueueChunks(trx, batchId, deps.config.batchProviderConcurrency);
    return null;
  });
  return getBatch(deps, principal, existing ?? batchId);
}

/** Status, counts, cost so far and webhook delivery attempts of one batch. */
export async function getBatch(
  deps: Pick<Deps, 'db'>,
  principal: UserPrincipal,
  id: string,
): Promise<BatchDetail> {
  const row = await visibleBatch(deps.db, principal, id);
  const counts = await countsOf(deps.db, [row]);
  const deliveries = await deps.db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('batch_id', '=', id)
    .orderBy('created_at')
    .execute();
  return {
    ...toView(row, counts.get(row.id) ?? emptyCounts(row.total)),
    webhookDeliveries: deliveries.map((d) => ({
      attempt: d.attempt,
      statusCode: d.status_code,
      ok: d.ok,
      error: d.error,
      durationMs: d.duration_ms,
      createdAt: d.created_at.toISOString(),
    })),
  };
}

/** Newest first; own batches, or everyone's for an admin. */
export async function listBatches(
  deps: Pick<Deps, 'db'>,
  principal: UserPrincipal,
  input: PageInput,
): Promise<Page<BatchView>> {
  const { limit, cursor } = pageParams(input);
  let q = deps.db
    .selectFrom('batches')
    .selectAll()
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1);
  if (principal.role !== 'admin') q = q.where('user_id', '=', principal.userId);
  if (cursor) {
    q = q.where(
      sql<boolean>`(created_at, id) < (select created_at, id from batches where id = ${cursor})`,
    );
  }
  const rows = await q.execute();
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  const counts = await countsOf(deps.db, shown);
  return {
    items: shown.map((r) => toView(r, counts.get(r.id) ?? emptyCounts(r.total))),
    nextCursor: more ? (shown.at(-1)?.id ?? null) : null,
  };
}

/**
 * Ends a batch if every item is in a terminal state: the one transaction that sees it sets the
 * final status and enqueues the webhook. Call inside the transaction that changed `done`.
 */
export async function finishIfDone(trx: Kysely<DB>, batchId: string): Promise<boolean> {
  const r = await sql<{ id: string; webhook_url: string | null }>`
    update batches b set
      finished_at = now(),
      status = case
        when b.cancelled_at is not null then 'cancelled'
        when not exists (select 1 from batch_items i where i.batch_id = b.id and i.status = 'succeeded')
          then 'failed'
        else 'completed' end
    where b.id = ${batchId}::uuid and b.finished_at is null and b.done >= b.total
    returning b.id, b.webhook_url`.execute(trx);
  const row = r.rows[0];
  if (!row) return false;
  if (row.webhook_url) {
    await sql`select graphile_worker.add_job('webhook_delivery',
      json_build_object('batchId', ${batchId}::uuid), max_attempts := 8,
      job_key := ${`webhook:${batchId}`})`.execute(trx);
  }
  return true;
}

/** Pending items are cancelled at once; running ones finish and are billed. */
export async function cancelBatch(
  deps: Pick<Deps, 'db'>,
  principal: UserPrincipal,
  id: string,
): Promise<BatchDetail> {
  await visibleBatch(deps.db, principal, id);
  await deps.db.transaction().execute(async (trx) => {
    const b = await trx
      .updateTable('batches')
      .set({ cancelled_at: sql`now()` })
      .where('id', '=', id)
      .where('finished_at', 'is', null)
      .where('cancelled_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    if (!b) return; // already ended or cancelled: cancelling again changes nothing
    const r = await trx
      .updateTable('batch_items')
      .set({ status: 'cancelled', updated_at: sql`now()` })
      .where('batch_id', '=', id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    await trx
      .updateTable('batches')
      .set({
        done: sql`done + ${Number(r.numUpdatedRows)}::int`,
        // The status says so at once; it stays cancelled when the running items end.
        status: 'cancelled',
      })
      .where('id', '=', id)
      .execute();
    await finishIfDone(trx, id);
  });
  return getBatch(deps, principal, id);
}

type ItemRow = {
  idx: number;
  custom_id: string | null;
  status: BatchItemStatus;
  request_id: string | null;
  response: unknown;
  error: unknown;
};

function toLine(r: ItemRow): BatchResultLine {
  return {
    index: r.idx,
    customId: r.custom_id,
    status: r.status as BatchResultLine['status'],
    ...(r.response != null ? { response: r.response } : {}),
    ...(r.error != null ? { error: r.error as { code: string; message: string } } : {}),
    requestId: r.request_id,
  };
}

/**
 * One page of results in input order: the items that ended (succeeded, failed, cancelled);
 * `cursor` is the last index of the previous page.
 */
export async function readResults(
  deps: Pick<Deps, 'db'>,
  principal: UserPrincipal,
  id: string,
  input: { limit?: number | undefined; cursor?: string | null | undefined } = {},
): Promise<Page<BatchResultLine>> {
  await visibleBatch(deps.db, principal, id);
  const limit = Math.min(Math.max(Math.trunc(input.limit ?? 1000), 1), 5000);
  let after = -1;
  if (input.cursor != null) {
    after = Number(input.cursor);
    if (!Number.isInteger(after) || after < -1) {
      throw new DomainError('bad_request', 'invalid cursor', { param: 'cursor' });
    }
  }
  const rows = await deps.db
    .selectFrom('batch_items')
    .select(['idx', 'custom_id', 'status', 'request_id', 'response', 'error'])
    .where('batch_id', '=', id)
    .where('idx', '>', after)
    .where('status', 'in', ['succeeded', 'failed', 'cancelled'])
    .orderBy('idx')
    .limit(limit + 1)
    .execute();
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  return {
    items: shown.map(toLine),
    nextCursor: more ? String(shown.at(-1)?.idx) : null,
  };
}

/**
 * All results in input order, a page at a time (memory stays one page whatever the batch size).
 * Ownership is checked before the first line.
 */
export async function* streamResults(
  deps: Pick<Deps, 'db'>,
  principal: UserPrincipal,
  id: string,
  pageSize = 1000,
): AsyncGenerator<BatchResultLine> {
  let cursor: string | null = null;
  do {
    const page = await readResults(deps, principal, id, { limit: pageSize, cursor });
    for (const line of page.items) yield line;
    cursor = page.nextCursor;
  } while (cursor !== null);
}

/** Cron: forgets Idempotency-Keys older than their retention (at least 24 hours). */
export async function purgeIdempotencyKeys(deps: Pick<Deps, 'db' | 'clock'>): Promise<number> {
  const cutoff = new Date(deps.clock.now().getTime() - IDEMPOTENCY_KEY_TTL_HOURS * 3_600_000);
  const r = await deps.db
    .deleteFrom('idempotency_keys')
    .where('created_at', '<', cutoff)
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
