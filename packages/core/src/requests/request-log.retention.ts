import type { DB } from '@tollgate/db';
import { type Kysely, sql } from 'kysely';

const DAY_MS = 86_400_000;
// Only partitions made by tollgate_ensure_request_log_partitions (migrations 0003, 0004) are ever
// dropped.
const PARTITION = /^(?:request_logs|request_bodies)_(\d{4})_(\d{2})$/;

export type RetentionResult = { partitionsDropped: string[]; bodiesDeleted: number };

/**
 * Drops every monthly request_logs and request_bodies partition whose whole range ends at or
 * before `now − retentionDays`, then deletes the request_bodies rows older than that cutoff left
 * in the one partition that straddles it (prompts are not kept up to a month past retention).
 */
export async function applyRequestLogRetention(
  db: Kysely<DB>,
  now: Date,
  retentionDays: number,
): Promise<RetentionResult> {
  const cutoff = new Date(now.getTime() - retentionDays * DAY_MS);
  const parts = await sql<{ name: string }>`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent in ('request_logs'::regclass, 'request_bodies'::regclass)`.execute(db);
  const partitionsDropped: string[] = [];
  for (const { name } of parts.rows) {
    const m = PARTITION.exec(name);
    if (!m) continue;
    // The partition covers [first of month, first of next month) in UTC.
    const end = Date.UTC(Number(m[1]), Number(m[2]), 1);
    if (end > cutoff.getTime()) continue;
    // A whole partition, not a row-by-row delete: instant, and no bloat left for vacuum.
    await sql`drop table if exists ${sql.table(name)}`.execute(db);
    partitionsDropped.push(name);
  }
  const res = await db
    .deleteFrom('request_bodies')
    .where('created_at', '<', cutoff)
    .executeTakeFirst();
  return { partitionsDropped: partitionsDropped.sort(), bodiesDeleted: Number(res.numDeletedRows) };
}
