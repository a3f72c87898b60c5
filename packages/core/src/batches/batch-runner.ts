import { randomUUID } from 'node:crypto';
import type { DB } from '@tollgate/db';
import { type Kysely, sql } from 'kysely';
import type { UserPrincipal } from '../auth/principal.ts';
import { scopesOfRole } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { DomainError, type DomainErrorCode } from '../errors.ts';
import { chatComplete } from '../gateway/gateway.service.ts';
import type { GatewayChatInput, GatewayChatResult } from '../gateway/gateway.types.ts';
import { defaultTuning, type GatewayTuning } from '../gateway/upstream-call.ts';
import {
  ensurePartitions,
  type RequestLogEntry,
  type RequestLogWriter,
  writeRequestLogEntries,
} from '../requests/request-log.writer.ts';
import { finishIfDone } from './batches.service.ts';

/** A `batch_chunk` job: the items of one batch and provider with `from <= idx <= to`. */
export type BatchChunk = { batchId: string; provider: string; from: number; to: number };

/**
 * How an item's refusal is handled. Retried later (the item goes back to pending with a delayed
 * job): the upstream rate-limited, failed or timed out, or Tollgate's own per-key/team rate limit
 * refused it (`rate_limit_exceeded`, issue #12). Failed at once: everything else, notably
 * `budget_exceeded` (waiting does not refill a budget within a batch's life) and bad requests.
 */
export const retryLaterCodes: ReadonlySet<DomainErrorCode> = new Set<DomainErrorCode>([
  'upstream_rate_limited',
  'upstream_error',
  'upstream_timeout',
  'rate_limit_exceeded',
  'unavailable',
]);

/** Attempts per item (each one already includes the gateway's own retries and fallbacks). */
export const MAX_ITEM_ATTEMPTS = 5;

export type BatchRunOptions = {
  tuning?: GatewayTuning;
  /** Delay before an item's next attempt: base × 2^(attempt-1), capped at 5 minutes. */
  retryBaseMs?: number;
};

export type ChunkOutcome = { succeeded: number; failed: number; retried: number };

type RunnerDeps = Pick<
  Deps,
  'db' | 'config' | 'log' | 'metrics' | 'providers' | 'clock' | 'requestLog'
>;

const NO_PARTITION = '23514';

/** A writer that keeps the gateway's row for the item's own transaction instead of buffering it. */
function capture(): RequestLogWriter & { entries: RequestLogEntry[] } {
  const entries: RequestLogEntry[] = [];
  return {
    entries,
    record: (e) => {
      entries.push(e);
    },
    flush: async () => {},
    close: async () => {},
    pending: () => 0,
  };
}

/** A result line's `response`: the same shape as chat.complete's answer. */
function wireResponse(r: GatewayChatResult) {
  return {
    requestId: r.requestId,
    model: r.model,
    provider: r.provider,
    createdAt: new Date(r.created * 1000).toISOString(),
    content: r.content,
    toolCalls: r.toolCalls,
    finishReason: r.finishReason,
    ...(r.stopSequence !== undefined ? { stopSequence: r.stopSequence } : {}),
    usage: r.usage,
    cacheHit: r.cacheHit,
  };
}

/** Runs `fn` in a transaction; a row dated in a month without a partition gets one, then again. */
async function inTransaction(db: Kysely<DB>, at: Date, fn: (trx: Kysely<DB>) => Promise<void>) {
  try {
    await db.transaction().execute(fn);
  } catch (e) {
    if ((e as { code?: string }).code !== NO_PARTITION) throw e;
    await ensurePartitions(db, at, 0);
    await db.transaction().execute(fn);
  }
}

type Claimed = { id: string; idx: number; request: GatewayChatInput; attempts: number };

/**
 * Ends an item: its result, its one request-log row (the database refuses a second one) and the
 * batch's progress commit together, or not at all. Only the job holding the item may end it.
 */
async function endItem(
  deps: RunnerDeps,
  batchId: string,
  jobId: string,
  item: Claimed,
  end: {
    status: 'succeeded' | 'failed';
    response: unknown;
    error: { code: string; message: string } | null;
    requestId: string;
    entries: RequestLogEntry[];
  },
): Promise<void> {
  const log = end.entries[0];
  await inTransaction(deps.db, log?.createdAt ?? deps.clock.now(), async (trx) => {
    const mine = await trx
      .updateTable('batch_items')
      .set({
        status: end.status,
        response: end.response === null ? null : JSON.stringify(end.response),
        error: end.error === null ? null : JSON.stringify(end.error),
        request_id: log ? end.requestId : null,
        updated_at: sql`now()`,
      })
      .where('id', '=', item.id)
      .where('status', '=', 'running')
      .where('job_id', '=', jobId)
      .returning('id')
      .executeTakeFirst();
    if (!mine) return;
    await writeRequestLogEntries(trx, end.entries);
    const cost = log
      ? sql`coalesce((select cost_usd from request_logs
          where id = ${log.id}::uuid and created_at = ${log.createdAt.toISOString()}::timestamptz), 0)`
      : sql`0`;
    await trx
      .updateTable('batches')
      .set({ done: sql`done + 1`, cost_usd: sql`cost_usd + ${cost}` })
      .where('id', '=', batchId)
      .execute();
    await finishIfDone(trx, batchId);
  });
}

/** Puts an item back to pending with a delayed single-item job on the same provider's queues. */
async function retryItemLater(
  deps: RunnerDeps,
  chunk: BatchChunk,
  jobId: string,
  item: Claimed,
  err: DomainError,
  delayMs: number,
): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    const mine = await trx
      .updateTable('batch_items')
      .set({
        status: 'pending',
        job_id: null,
        error: JSON.stringify({ code: err.code, message: err.message }),
        updated_at: sql`now()`,
      })
      .where('id', '=', item.id)
      .where('status', '=', 'running')
      .where('job_id', '=', jobId)
      .returning('id')
      .executeTakeFirst();
    if (!mine) return;
    const queue = `batch:${chunk.provider}:${item.idx % deps.config.batchProviderConcurrency}`;
    await sql`select graphile_worker.add_job('batch_chunk',
      json_build_object('batchId', ${chunk.batchId}::uuid, 'provider', ${chunk.provider}::text,
        'from', ${item.idx}::int, 'to', ${item.idx}::int),
      queue_name := ${queue}, max_attempts := 25,
      run_at := now() + make_interval(secs => ${delayMs / 1000}))`.execute(trx);
  });
}

/**
 * Processes the pending items of one chunk through the gateway (catalog, fallbacks, pricing,
 * budgets once they exist), one at a time. Safe to re-run: ended items are skipped, and items
 * this same job claimed before its worker died are taken back.
 */
export async function processBatchChunk(
  deps: RunnerDeps,
  chunk: BatchChunk,
  job: { id: string; signal: AbortSignal },
  opts: BatchRunOptions = {},
): Promise<ChunkOutcome> {
  const out: ChunkOutcome = { succeeded: 0, failed: 0, retried: 0 };
  const batch = await deps.db
    .selectFrom('batches as b')
    .innerJoin('users as u', 'u.id', 'b.user_id')
    .select(['b.user_id', 'b.key_id', 'b.finished_at', 'u.role'])
    .where('b.id', '=', chunk.batchId)
    .executeTakeFirst();
  if (!batch || batch.finished_at) return out;
  const principal: UserPrincipal = {
    kind: 'user',
    userId: batch.user_id,
    role: batch.role,
    keyId: batch.key_id,
    scopes: scopesOfRole(batch.role),
  };
  await deps.db
    .updateTable('batches')
    .set({ status: 'running', started_at: sql`now()` })
    .where('id', '=', chunk.batchId)
    .where('status', '=', 'queued')
    .execute();

  const candidates = await deps.db
    .selectFrom('batch_items')
    .select(['id', 'idx'])
    .where('batch_id', '=', chunk.batchId)
    .where('provider', '=', chunk.provider)
    .where('idx', '>=', chunk.from)
    .where('idx', '<=', chunk.to)
    .where((eb) =>
      eb.or([
        eb('status', '=', 'pending'),
        eb.and([eb('status', '=', 'running'), eb('job_id', '=', job.id)]),
      ]),
    )
    .orderBy('idx')
    .execute();

  for (const c of candidates) {
    if (job.signal.aborted) throw new Error('batch job aborted: the worker is stopping');
    // Claim: a cancel (pending → cancelled) or another job may have got there first.
    const claimed = await deps.db
      .updateTable('batch_items')
      .set({
        status: 'running',
        job_id: job.id,
        attempts: sql`attempts + 1`,
        updated_at: sql`now()`,
      })
      .where('id', '=', c.id)
      .where((eb) =>
        eb.or([
          eb('status', '=', 'pending'),
          eb.and([eb('status', '=', 'running'), eb('job_id', '=', job.id)]),
        ]),
      )
      .returning(['id', 'idx', 'request', 'attempts'])
      .executeTakeFirst();
    if (!claimed) continue;
    const item = claimed as Claimed;
    const rec = capture();
    const requestId = randomUUID();
    try {
      const result = await chatComplete(
        { ...deps, requestLog: rec },
        item.request,
        { principal, requestId, signal: job.signal, surface: 'batch', batchItemId: item.id },
        opts.tuning ?? defaultTuning,
      );
      await endItem(deps, chunk.batchId, job.id, item, {
        status: 'succeeded',
        response: wireResponse(result),
        error: null,
        requestId,
        entries: rec.entries,
      });
      out.succeeded++;
    } catch (e) {
      if (job.signal.aborted || !(e instanceof DomainError)) throw e;
      if (retryLaterCodes.has(e.code) && item.attempts < MAX_ITEM_ATTEMPTS) {
        const base = opts.retryBaseMs ?? 1000;
        const delay = Math.min(
          300_000,
          e.retryAfter !== undefined ? e.retryAfter * 1000 : base * 2 ** (item.attempts - 1),
        );
        await retryItemLater(deps, chunk, job.id, item, e, delay);
        out.retried++;
        continue;
      }
      await endItem(deps, chunk.batchId, job.id, item, {
        status: 'failed',
        response: null,
        error: { code: e.code, message: e.message },
        requestId,
        entries: rec.entries,
      });
      out.failed++;
    }
  }
  return out;
}
