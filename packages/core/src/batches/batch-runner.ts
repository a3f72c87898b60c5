import { randomUUID } from 'node:crypto';
import type { DB } from '@tollgate/db';
import { type ExpressionBuilder, type Kysely, sql } from 'kysely';
import type { UserPrincipal } from '../auth/principal.ts';
import { scopesOfRole } from '../auth/principal.ts';
import { DomainError, type DomainErrorCode } from '../errors.ts';
import { toChatResult } from '../gateway/chat-result.ts';
import { chatComplete, type GatewayDeps } from '../gateway/gateway.service.ts';
import type { GatewayChatInput } from '../gateway/gateway.types.ts';
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

// Every item is a gateway call: the runner needs exactly what the gateway needs.
type RunnerDeps = GatewayDeps;

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

/** An item that ended (succeeded or failed for good) in this group. */
type Ended = {
  item: Claimed;
  status: 'succeeded' | 'failed';
  response: unknown;
  error: { code: string; message: string } | null;
  requestId: string;
  entries: RequestLogEntry[];
};
/** An item to try again later. */
type Deferred = { item: Claimed; error: DomainError; delayMs: number };

/** Items claimed, called and committed together: one claim and one commit per group. */
export const BATCH_GROUP_SIZE = 25;

/**
 * Commits a group: the ended items' results, their request-log rows (one per item, the database
 * refuses a second), the deferred items back to pending with their delayed jobs, and the batch's
 * progress — all or nothing. Only items still held by this job are touched. Commits need not
 * wait for the WAL flush (synchronous_commit off): a Postgres crash may lose the last moments of
 * work, but always results and billing rows together, and the items are then simply run again.
 */
async function commitGroup(
  deps: RunnerDeps,
  chunk: BatchChunk,
  jobId: string,
  ended: Ended[],
  deferred: Deferred[],
): Promise<void> {
  if (ended.length === 0 && deferred.length === 0) return;
  const at = ended.find((e) => e.entries[0])?.entries[0]?.createdAt ?? deps.clock.now();
  await inTransaction(deps.db, at, async (trx) => {
    await sql`set local synchronous_commit = off`.execute(trx);
    let mine = new Set<string>();
    if (ended.length > 0) {
      const rows = ended.map((e) =>
        JSON.stringify({
          id: e.item.id,
          status: e.status,
          response: e.response,
          error: e.error,
          request_id: e.entries.length > 0 ? e.requestId : null,
        }),
      );
      const r = await sql<{ id: string }>`
        update batch_items i set status = v.status, response = v.response, error = v.error,
          request_id = v.request_id, updated_at = now()
        from jsonb_to_recordset(${`[${rows.join(',')}]`}::jsonb)
          as v(id uuid, status text, response jsonb, error jsonb, request_id text)
        where i.id = v.id and i.status = 'running' and i.job_id = ${jobId}::bigint
        returning i.id`.execute(trx);
      mine = new Set(r.rows.map((x) => x.id));
    }
    const entries = ended.filter((e) => mine.has(e.item.id)).flatMap((e) => e.entries);
    await writeRequestLogEntries(trx, entries);
    const cost =
      entries.length > 0
        ? sql`coalesce((select sum(l.cost_usd) from request_logs l
            join unnest(${entries.map((e) => e.id)}::uuid[], ${entries.map((e) => e.createdAt.toISOString())}::timestamptz[])
              as k(id, created_at) on l.id = k.id and l.created_at = k.created_at), 0)`
        : sql`0`;
    for (const d of deferred) {
      const back = await trx
        .updateTable('batch_items')
        .set({
          status: 'pending',
          job_id: null,
          error: JSON.stringify({ code: d.error.code, message: d.error.message }),
          updated_at: sql`now()`,
        })
        .where('id', '=', d.item.id)
        .where('status', '=', 'running')
        .where('job_id', '=', jobId)
        .returning('id')
        .executeTakeFirst();
      if (!back) continue;
      const queue = `batch:${chunk.provider}:${d.item.idx % deps.config.batchProviderConcurrency}`;
      await sql`select graphile_worker.add_job('batch_chunk',
        json_build_object('batchId', ${chunk.batchId}::uuid, 'provider', ${chunk.provider}::text,
          'from', ${d.item.idx}::int, 'to', ${d.item.idx}::int),
        queue_name := ${queue}, max_attempts := 25,
        run_at := now() + make_interval(secs => ${d.delayMs / 1000}))`.execute(trx);
    }
    if (mine.size > 0) {
      await trx
        .updateTable('batches')
        .set({ done: sql`done + ${mine.size}::int`, cost_usd: sql`cost_usd + ${cost}` })
        .where('id', '=', chunk.batchId)
        .execute();
      await finishIfDone(trx, chunk.batchId);
    }
  });
}

/**
 * Processes the pending items of one chunk through the gateway (catalog, fallbacks, pricing,
 * budgets once they exist), a group at a time: claim, call one by one, commit. Safe to re-run:
 * ended items are skipped, and items this same job claimed before its worker died are taken
 * back (their calls happen again; nothing of them was committed, so nothing is billed twice).
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
    // A team key's batch stays under its team's allow-list, budgets and limits (teams, #18).
    .leftJoin('api_keys as k', 'k.id', 'b.key_id')
    .leftJoin('teams as t', 't.id', 'k.team_id')
    .select([
      'b.user_id',
      'b.key_id',
      'b.finished_at',
      'u.role',
      'k.team_id',
      'k.allowed_models',
      't.rpm_limit as team_rpm_limit',
      't.tpm_limit as team_tpm_limit',
    ])
    .where('b.id', '=', chunk.batchId)
    .executeTakeFirst();
  if (!batch || batch.finished_at) return out;
  const principal: UserPrincipal = {
    kind: 'user',
    userId: batch.user_id,
    role: batch.role,
    keyId: batch.key_id,
    scopes: scopesOfRole(batch.role),
    teamId: batch.team_id,
    allowedModels: batch.allowed_models ?? [],
    ...(batch.team_id
      ? { teamLimits: { rpmLimit: batch.team_rpm_limit, tpmLimit: batch.team_tpm_limit } }
      : {}),
  };
  await deps.db
    .updateTable('batches')
    .set({ status: 'running', started_at: sql`now()` })
    .where('id', '=', chunk.batchId)
    .where('status', '=', 'queued')
    .execute();

  const held = (eb: ExpressionBuilder<DB, 'batch_items'>) =>
    eb.or([
      eb('status', '=', 'pending'),
      eb.and([eb('status', '=', 'running'), eb('job_id', '=', job.id)]),
    ]);
  const candidates = await deps.db
    .selectFrom('batch_items')
    .select('id')
    .where('batch_id', '=', chunk.batchId)
    .where('provider', '=', chunk.provider)
    .where('idx', '>=', chunk.from)
    .where('idx', '<=', chunk.to)
    .where(held)
    .orderBy('idx')
    .execute();

  for (let g = 0; g < candidates.length; g += BATCH_GROUP_SIZE) {
    if (job.signal.aborted) throw new Error('batch job aborted: the worker is stopping');
    const ids = candidates.slice(g, g + BATCH_GROUP_SIZE).map((c) => c.id);
    // Claim: a cancel (pending → cancelled) or another job may have got there first.
    // (A claim lost to a Postgres crash leaves the items pending: no WAL flush needed either.)
    const claimed = (await deps.db.transaction().execute(async (trx) => {
      await sql`set local synchronous_commit = off`.execute(trx);
      return trx
        .updateTable('batch_items')
        .set({
          status: 'running',
          job_id: job.id,
          attempts: sql`attempts + 1`,
          updated_at: sql`now()`,
        })
        .where('id', 'in', ids)
        .where(held)
        .returning(['id', 'idx', 'request', 'attempts'])
        .execute();
    })) as Claimed[];
    claimed.sort((a, b) => a.idx - b.idx);
    const ended: Ended[] = [];
    const deferred: Deferred[] = [];
    for (const item of claimed) {
      const rec = capture();
      const requestId = randomUUID();
      try {
        const result = await chatComplete(
          { ...deps, requestLog: rec },
          item.request,
          { principal, requestId, signal: job.signal, surface: 'batch', batchItemId: item.id },
          opts.tuning ?? defaultTuning,
        );
        ended.push({
          item,
          status: 'succeeded',
          response: toChatResult(result),
          error: null,
          requestId,
          entries: rec.entries,
        });
        out.succeeded++;
      } catch (e) {
        if (job.signal.aborted || !(e instanceof DomainError)) throw e;
        if (retryLaterCodes.has(e.code) && item.attempts < MAX_ITEM_ATTEMPTS) {
          const base = opts.retryBaseMs ?? 1000;
          const delayMs = Math.min(
            300_000,
            e.retryAfter !== undefined ? e.retryAfter * 1000 : base * 2 ** (item.attempts - 1),
          );
          deferred.push({ item, error: e, delayMs });
          out.retried++;
          continue;
        }
        ended.push({
          item,
          status: 'failed',
          response: null,
          error: { code: e.code, message: e.message },
          requestId,
          entries: rec.entries,
        });
        out.failed++;
      }
    }
    await commitGroup(deps, chunk, job.id, ended, deferred);
  }
  return out;
}
