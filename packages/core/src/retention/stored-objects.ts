import { sql } from 'kysely';
import type { Deps } from '../deps.ts';

type RetentionDeps = Pick<Deps, 'db' | 'clock' | 'config'>;

const DAY_MS = 86_400_000;

/**
 * The oldest creation (or end) time still kept under a retention of `days` (0 keeps everything:
 * no cutoff).
 */
export function retentionCutoff(deps: Pick<Deps, 'clock'>, days: number): Date | undefined {
  return days === 0 ? undefined : new Date(deps.clock.now().getTime() - days * DAY_MS);
}

/** When an object made (or ended) at `from` expires under a retention of `days`; null: never. */
export function expiresAt(from: Date, days: number): Date | null {
  return days === 0 ? null : new Date(from.getTime() + days * DAY_MS);
}

export type StoredObjectsPurge = { responses: number; files: number; batches: number };

/**
 * Cron: deletes stored Responses older than RESPONSES_RETENTION_DAYS, uploaded files older than
 * FILES_RETENTION_DAYS, and batches that ended more than BATCH_RETENTION_DAYS ago with their
 * items, results (the /v1 output and error files are made from them), OpenAI batch rows and
 * webhook deliveries (foreign keys cascade). Reads already hide expired responses and files, so
 * how often this runs bounds storage only, never what a caller sees. Request-log rows (billing)
 * stay: they have their own retention (LOG_RETENTION_DAYS).
 */
export async function purgeStoredObjects(deps: RetentionDeps): Promise<StoredObjectsPurge> {
  const out: StoredObjectsPurge = { responses: 0, files: 0, batches: 0 };
  const responsesBefore = retentionCutoff(deps, deps.config.responsesRetentionDays);
  if (responsesBefore) {
    const r = await deps.db
      .deleteFrom('responses')
      .where('created_at', '<', responsesBefore)
      .executeTakeFirst();
    out.responses = Number(r.numDeletedRows);
  }
  const filesBefore = retentionCutoff(deps, deps.config.filesRetentionDays);
  if (filesBefore) {
    const r = await deps.db
      .deleteFrom('files')
      .where('created_at', '<', filesBefore)
      .executeTakeFirst();
    out.files = Number(r.numDeletedRows);
  }
  const batchesBefore = retentionCutoff(deps, deps.config.batchRetentionDays);
  if (batchesBefore) {
    // The per-item billing guard rows go with their items: an item that no longer exists can
    // never be run (and billed) again.
    const r = await sql<{ n: number }>`
      with gone as (
        delete from batches where finished_at is not null and finished_at < ${batchesBefore}
        returning id
      ), guards as (
        delete from batch_item_charges c using batch_items i, gone
        where i.batch_id = gone.id and c.batch_item_id = i.id::text
      )
      select count(*)::int as n from gone`.execute(deps.db);
    out.batches = r.rows[0]?.n ?? 0;
  }
  return out;
}
