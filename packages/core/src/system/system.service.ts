import { pendingMigrations } from '@tollgate/db';
import { sql } from 'kysely';
import type { Deps } from '../deps.ts';

/** A worker whose heartbeat is older than this is treated as gone. */
export const HEARTBEAT_STALE_SECONDS = 90;

export const version = '0.1.0';

export type DatabaseStatus = 'ok' | 'unreachable';

async function databaseStatus(deps: Deps): Promise<DatabaseStatus> {
  try {
    await sql`select 1`.execute(deps.db);
    return 'ok';
  } catch {
    return 'unreachable';
  }
}

/** Version, uptime and database status of this process. */
export async function getSystemInfo(deps: Deps) {
  return {
    name: 'tollgate' as const,
    version,
    uptimeSeconds: Math.floor((deps.clock.now().getTime() - deps.startedAt.getTime()) / 1000),
    database: await databaseStatus(deps),
    time: deps.clock.now().toISOString(),
  };
}

export type ReadinessCheck = { ok: boolean; detail: string };
export type Readiness = {
  ready: boolean;
  checks: { database: ReadinessCheck; migrations: ReadinessCheck; worker: ReadinessCheck };
};

/** Ready = database reachable, every migration applied, a worker heartbeat seen recently. */
export async function checkReadiness(deps: Deps): Promise<Readiness> {
  const db = await databaseStatus(deps);
  if (db !== 'ok') {
    const down = { ok: false, detail: 'database unreachable' };
    return { ready: false, checks: { database: down, migrations: down, worker: down } };
  }
  const pending = await pendingMigrations(deps.pool);
  const cutoff = new Date(deps.clock.now().getTime() - HEARTBEAT_STALE_SECONDS * 1000);
  const beat = await deps.db
    .selectFrom('worker_heartbeats')
    .select((eb) => eb.fn.max('seen_at').as('last'))
    .where('seen_at', '>=', cutoff)
    .executeTakeFirst();
  const checks = {
    database: { ok: true, detail: 'reachable' },
    migrations: {
      ok: pending.length === 0,
      detail: pending.length === 0 ? 'current' : `pending: ${pending.join(', ')}`,
    },
    worker: {
      ok: Boolean(beat?.last),
      detail: beat?.last
        ? `heartbeat at ${new Date(beat.last).toISOString()}`
        : `no worker heartbeat in the last ${HEARTBEAT_STALE_SECONDS}s`,
    },
  };
  return { ready: checks.migrations.ok && checks.worker.ok, checks };
}
