import { Kysely, PostgresDialect } from 'kysely';
import { type MigrationProvider, Migrator } from 'kysely/migration';
import type pg from 'pg';
import { migrations } from '../migrations/index.ts';

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Names of our migrations, in order: `/readyz` compares them with what the database has run. */
export const migrationNames: readonly string[] = Object.keys(migrations).sort();

/**
 * Brings the database to the current schema: our kysely migrations, then graphile-worker's
 * (so the server can `add_job` on a database no worker has seen yet). Returns the names of ours
 * it applied (the primary logs them).
 */
export async function migrate(pool: pg.Pool): Promise<string[]> {
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  // Two processes starting at once (cluster, compose) must not race: one migrates, the other waits.
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock(7214031)');
    const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (error) {
      throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${String(error)}`, {
        cause: error,
      });
    }
    // Loaded here, not at the top: server processes import this package but never migrate, and
    // graphile-worker with its config loaders is ~20 MB of RSS each of them would carry.
    const { Logger, runMigrations } = await import('graphile-worker');
    await runMigrations({ pgPool: pool, logger: new Logger(() => () => {}) });
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  } finally {
    await client.query('select pg_advisory_unlock(7214031)').catch(() => {});
    client.release();
  }
}

/** Migrations we know of that the database has not run yet. */
export async function pendingMigrations(pool: pg.Pool): Promise<string[]> {
  const res = await pool
    .query<{ name: string }>('select name from kysely_migration')
    .catch(() => ({ rows: [] as { name: string }[] }));
  const done = new Set(res.rows.map((r) => r.name));
  return migrationNames.filter((n) => !done.has(n));
}
