import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { Deps } from '../deps.ts';

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

/** How often a worker process beats (a timer of its own, besides the cron line). */
export const HEARTBEAT_INTERVAL_MS = 5_000;
/** A worker silent this long is dead: its jobs are released (SIGKILL leaves them locked 4 h). */
export const DEAD_WORKER_SECONDS = 30;

/** Whether a process of this host is running (EPERM: it exists, owned by someone else). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Releases jobs locked by workers that are gone: silent for DEAD_WORKER_SECONDS, or (at once) a
 * worker of this host whose process no longer exists — a worker restarted after SIGKILL takes
 * its predecessor's jobs back as soon as it starts. Live ids are never passed.
 */
export async function unlockDeadWorkers(
  deps: Pick<Deps, 'db'>,
  opts: { staleSeconds?: number } = {},
): Promise<string[]> {
  const staleSeconds = opts.staleSeconds ?? DEAD_WORKER_SECONDS;
  const rows = await deps.db
    .selectFrom('worker_heartbeats')
    .select([
      'worker_id',
      'hostname',
      'pid',
      sql<boolean>`seen_at < now() - make_interval(secs => ${staleSeconds})`.as('stale'),
    ])
    .execute();
  const here = hostname();
  const dead = rows
    .filter((r) => r.stale || (r.hostname === here && r.pid !== process.pid && !pidAlive(r.pid)))
    .map((r) => r.worker_id);
  if (dead.length === 0) return [];
  await deps.db.deleteFrom('worker_heartbeats').where('worker_id', 'in', dead).execute();
  await sql`select graphile_worker.force_unlock_workers(${dead}::text[])`.execute(deps.db);
  return dead;
}
