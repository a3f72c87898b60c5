import type { DB } from '@tollgate/db';
import { type Kysely, sql } from 'kysely';
import type { Deps } from '../deps.ts';
import { olderThanCursor, type Page, type PageInput, pageParams, toPage } from '../pagination.ts';

/**
 * Who changed something, through which procedure, in which request: the api layer builds it from
 * the caller and the procedure path (`keys.create`), an audited service writes it with the change.
 */
export type AuditStamp = { actorId: string; action: string; requestId: string | null };

/** What changed: the target and its state before and after (null when created / deleted). */
export type AuditChange = {
  targetType: string;
  targetId: string | null;
  before: unknown;
  after: unknown;
};

/**
 * Field names whose values never enter the audit log, at any depth. The views audited are
 * already secret-free (keys carry a prefix, users no hash); this is the second line.
 */
const SECRET_FIELD =
  /^(key|keyhash|key_hash|password|passwordhash|password_hash|secret|apikey|api_key|token|accesstoken|refreshtoken|privatejwk|private_jwk|private_jwk_enc|authorization)$/i;

/** A JSON-safe copy without secret-named fields. */
export function withoutSecrets(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(withoutSecrets);
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (SECRET_FIELD.test(k) || x === undefined) continue;
      out[k] = withoutSecrets(x);
    }
    return out;
  }
  if (typeof v === 'bigint') return v.toString();
  return v;
}

const json = (v: unknown) => {
  const clean = withoutSecrets(v);
  return clean === null ? null : JSON.stringify(clean);
};

/**
 * Writes one audit row. Call it inside the transaction that makes the change, so the row exists
 * iff the change committed. Without a stamp (seeding, internal callers) nothing is written.
 */
export async function recordAudit(
  db: Kysely<DB>,
  stamp: AuditStamp | undefined,
  change: AuditChange,
): Promise<void> {
  if (!stamp) return;
  await db
    .insertInto('audit_log')
    .values({
      actor_id: stamp.actorId,
      action: stamp.action,
      target_type: change.targetType,
      target_id: change.targetId,
      before: json(change.before),
      after: json(change.after),
      request_id: stamp.requestId || null,
    })
    .execute();
}

export type AuditEntry = {
  id: string;
  actorId: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  before: unknown;
  after: unknown;
  requestId: string | null;
  createdAt: string;
};

export type AuditFilters = PageInput & {
  actorId?: string | undefined;
  action?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
};

/** The audit log, newest first, filtered (admin). */
export async function listAudit(
  deps: Pick<Deps, 'db'>,
  f: AuditFilters,
): Promise<Page<AuditEntry>> {
  const { limit, cursor } = pageParams(f);
  let q = deps.db.selectFrom('audit_log').selectAll();
  if (f.actorId) q = q.where('actor_id', '=', f.actorId);
  if (f.action) q = q.where('action', '=', f.action);
  if (f.targetType) q = q.where('target_type', '=', f.targetType);
  if (f.targetId) q = q.where('target_id', '=', f.targetId);
  if (f.from) q = q.where('created_at', '>=', new Date(f.from));
  if (f.to) q = q.where('created_at', '<', new Date(f.to));
  if (cursor) q = q.where(olderThanCursor('audit_log', cursor));
  const rows = await q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  return toPage(rows, limit, (r) => ({
    id: r.id,
    actorId: r.actor_id,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    before: r.before ?? null,
    after: r.after ?? null,
    requestId: r.request_id,
    createdAt: r.created_at.toISOString(),
  }));
}

/**
 * Retention: deletes rows older than AUDIT_RETENTION_DAYS (0 keeps everything) through the one
 * database function the append-only trigger lets through.
 */
export async function purgeAuditLog(deps: Pick<Deps, 'db' | 'clock' | 'config'>): Promise<number> {
  const days = deps.config.auditRetentionDays;
  if (days === 0) return 0;
  const cutoff = new Date(deps.clock.now().getTime() - days * 86_400_000);
  const r = await sql<{ n: string }>`select audit_log_purge(${cutoff}) as n`.execute(deps.db);
  return Number(r.rows[0]?.n ?? 0);
}
