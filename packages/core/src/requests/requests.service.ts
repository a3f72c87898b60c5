import { sql } from 'kysely';
import type { UserPrincipal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';
import type { Surface } from '../gateway/gateway.types.ts';
import { trimDecimal } from '../models/models.service.ts';
import { managedKeyIds } from '../teams/team-access.ts';
import { applyRequestLogRetention, type RetentionResult } from './request-log.retention.ts';
import { ensurePartitions, type RequestStatus } from './request-log.writer.ts';

/** A request-log row as PRODUCT.md shows it. */
export type RequestLogRow = {
  id: string;
  requestId: string;
  userId: string;
  keyId: string | null;
  batchItemId: string | null;
  model: string;
  provider: string;
  upstreamModel: string;
  /** The provider connection that served the call (issue #16). */
  connection: string | null;
  status: RequestStatus;
  errorCode: string | null;
  latencyMs: number;
  ttftMs: number | null;
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  usageEstimated: boolean;
  costUsd: string | null;
  cacheHit: boolean;
  /** Which surface took the call: trpc, rest (/api), openai or anthropic (/v1), batch. */
  surface: Surface | null;
  createdAt: string;
};

export type RequestLogDetail = RequestLogRow & {
  bodies: { request: unknown; response: unknown } | null;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function baseQuery(deps: Pick<Deps, 'db'>) {
  return deps.db
    .selectFrom('request_logs as r')
    .select([
      'r.id',
      'r.request_id',
      'r.user_id',
      'r.key_id',
      'r.batch_item_id',
      'r.model',
      'r.provider',
      'r.upstream_model',
      'r.connection',
      'r.status',
      'r.error_code',
      'r.latency_ms',
      'r.ttft_ms',
      'r.input_tokens',
      'r.cached_input_tokens',
      'r.cache_write_tokens',
      'r.output_tokens',
      'r.reasoning_tokens',
      'r.usage_estimated',
      'r.cost_usd',
      'r.cache_hit',
      'r.surface',
      'r.created_at',
    ]);
}

type Raw = Awaited<ReturnType<ReturnType<typeof baseQuery>['executeTakeFirstOrThrow']>>;

function toRow(r: Raw): RequestLogRow {
  return {
    id: r.id,
    requestId: r.request_id,
    userId: r.user_id,
    keyId: r.key_id,
    batchItemId: r.batch_item_id,
    model: r.model,
    provider: r.provider,
    upstreamModel: r.upstream_model,
    connection: r.connection,
    status: r.status,
    errorCode: r.error_code,
    latencyMs: r.latency_ms,
    ttftMs: r.ttft_ms,
    inputTokens: r.input_tokens,
    cachedInputTokens: r.cached_input_tokens,
    cacheWriteTokens: r.cache_write_tokens,
    outputTokens: r.output_tokens,
    reasoningTokens: r.reasoning_tokens,
    usageEstimated: r.usage_estimated,
    costUsd: trimDecimal(r.cost_usd),
    cacheHit: r.cache_hit,
    surface: r.surface,
    createdAt: r.created_at.toISOString(),
  };
}

/** Cursor: the last row's created_at (µs precision kept as text) and id, base64url. */
function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}
function decodeCursor(c: string): [string, string] {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      typeof v[0] === 'string' &&
      !Number.isNaN(Date.parse(v[0])) &&
      typeof v[1] === 'string' &&
      UUID.test(v[1])
    ) {
      return [v[0], v[1]];
    }
  } catch {
    // fall through
  }
  throw new DomainError('bad_request', 'invalid cursor', { param: 'cursor' });
}

export type RequestFilters = {
  limit: number;
  cursor?: string | undefined;
  model?: string | undefined;
  status?: RequestStatus | undefined;
  keyId?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
};

/** Rows `p` may read: an admin's every row; anyone else's their own and their managed teams'. */
function visibleTo(p: UserPrincipal) {
  return sql<boolean>`(r.user_id = ${p.userId} or r.key_id in ${managedKeyIds(p.userId)})`;
}

/** Newest first; members see their own rows (and their managed teams'), admins everyone's. */
export async function listRequests(
  deps: Pick<Deps, 'db'>,
  principal: UserPrincipal,
  f: RequestFilters,
): Promise<{ items: RequestLogRow[]; nextCursor: string | null }> {
  let q = baseQuery(deps)
    // Text of the exact timestamp for the cursor: a JS Date would lose microseconds.
    .select(sql<string>`r.created_at::text`.as('created_at_text'))
    .orderBy('r.created_at', 'desc')
    .orderBy('r.id', 'desc')
    .limit(f.limit + 1);
  if (principal.role !== 'admin') q = q.where(visibleTo(principal));
  if (f.model) q = q.where('r.model', '=', f.model);
  if (f.status) q = q.where('r.status', '=', f.status);
  if (f.keyId) q = q.where('r.key_id', '=', f.keyId);
  if (f.from) q = q.where('r.created_at', '>=', new Date(f.from));
  if (f.to) q = q.where('r.created_at', '<', new Date(f.to));
  if (f.cursor) {
    const [at, id] = decodeCursor(f.cursor);
    q = q.where(sql<boolean>`(r.created_at, r.id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  const rows = await q.execute();
  const page = rows.slice(0, f.limit);
  const last = page.at(-1);
  return {
    items: page.map(toRow),
    nextCursor: rows.length > f.limit && last ? encodeCursor(last.created_at_text, last.id) : null,
  };
}

/** By row id or request id; someone else's row is "not found", exactly like a missing one. */
export async function getRequest(
  deps: Pick<Deps, 'db'>,
  principal: UserPrincipal,
  idOrRequestId: string,
): Promise<RequestLogDetail> {
  let q = baseQuery(deps)
    // A body carries its log row's created_at: joining on it lets Postgres prune partitions.
    .leftJoin('request_bodies as b', (j) =>
      j.onRef('b.log_id', '=', 'r.id').onRef('b.created_at', '=', 'r.created_at'),
    )
    .select(['b.request', 'b.response', 'b.log_id'])
    .orderBy('r.created_at', 'desc')
    .limit(1);
  q = UUID.test(idOrRequestId)
    ? q.where((eb) =>
        eb.or([eb('r.id', '=', idOrRequestId), eb('r.request_id', '=', idOrRequestId)]),
      )
    : q.where('r.request_id', '=', idOrRequestId);
  if (principal.role !== 'admin') q = q.where(visibleTo(principal));
  const r = await q.executeTakeFirst();
  if (!r) throw new DomainError('not_found', 'request not found');
  return {
    ...toRow(r),
    bodies: r.log_id ? { request: r.request ?? null, response: r.response ?? null } : null,
  };
}

/**
 * Claims a client-chosen request id once (chat.stream): a reconnecting subscription re-runs its
 * generator with the same input, and must be refused rather than call (and bill) upstream again.
 */
export async function claimRequestId(
  deps: Pick<Deps, 'db'>,
  principal: UserPrincipal,
  requestId: string,
): Promise<void> {
  const r = await deps.db
    .insertInto('request_claims')
    .values({ request_id: requestId, user_id: principal.userId })
    .onConflict((oc) => oc.column('request_id').doNothing())
    .returning('request_id')
    .executeTakeFirst();
  if (!r) {
    throw new DomainError('conflict', `request id '${requestId}' was already used`, {
      param: 'requestId',
    });
  }
}

/**
 * Maintenance: partitions for this month and the next `ahead` months exist; partitions and bodies
 * older than LOG_RETENTION_DAYS are dropped; claims older than two days are forgotten (a reconnect
 * comes within seconds).
 */
export async function maintainRequestLog(
  deps: Pick<Deps, 'db' | 'clock' | 'config'>,
  ahead = 2,
): Promise<{ partitionsCreated: number; claimsDeleted: number } & RetentionResult> {
  const now = deps.clock.now();
  const partitionsCreated = await ensurePartitions(deps.db, now, ahead);
  const retention = await applyRequestLogRetention(deps.db, now, deps.config.logRetentionDays);
  const res = await deps.db
    .deleteFrom('request_claims')
    .where('created_at', '<', new Date(now.getTime() - 2 * 86_400_000))
    .executeTakeFirst();
  return { partitionsCreated, claimsDeleted: Number(res.numDeletedRows), ...retention };
}
