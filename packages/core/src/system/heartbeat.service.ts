import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { Deps } from '../deps.ts';
import { HEARTBEAT_STALE_SECONDS } from './system.service.ts';

/** Records that a worker is alive; `/readyz` and the stale-lock sweep read it. */
export async function recordHeartbeat(deps: Pick<Deps, 'db'>, workerId: string): Promise<void> {
  await deps.db
    .insertInto('worker_heartbeats')
    .values({ worker_id: workerId, hostname: hostname(), pid: process.pid })
    .onConflict((oc) => oc.column('worker_id').doUpdateSet({ seen_at: sql`now()` }))
    .execute();
}

/** Forgets a worker that stopped cleanly. */
export async function removeHeartbeat(deps: Pick<Deps, 'db'>, workerId: string): Promise<void> {
  await deps.db.deleteFrom('worker_heartbeats').where('worker_id', '=', workerId).execute();
}

/**
 * Releases jobs locked by workers that stopped beating (killed with -9): graphile-worker would
 * otherwise keep them locked for 4 hours. Only stale ids are passed, never live ones.
 */
export async function unlockDeadWorkers(deps: Pick<Deps, 'db'>): Promise<string[]> {
  const stale = await deps.db
    .deleteFrom('worker_heartbeats')
    .where('seen_at', '<', sql<Date>`now() - make_interval(secs => ${HEARTBEAT_STALE_SECONDS * 2})`)
    .returning('worker_id')
    .execute();
  const ids = stale.map((r) => r.worker_id);
  if (ids.length > 0) {
    await sql`select graphile_worker.force_unlock_workers(${ids}::text[])`.execute(deps.db);
  }
  return ids;
}
