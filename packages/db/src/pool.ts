import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { DB } from './schema.ts';

// `date` (OID 1082) as its 'YYYY-MM-DD' string: the default makes a local-midnight Date.
pg.types.setTypeParser(1082, (v) => v);

export type PoolOptions = {
  max?: number;
  applicationName?: string;
  onError?: (err: Error) => void;
};

/** One pool per process; every connection runs in UTC and errors never crash the process. */
export function createPool(connectionString: string, opts: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'tollgate',
    options: '-c TimeZone=UTC',
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  const onError = opts.onError ?? (() => {});
  // An idle client's error (server restart, terminate) is emitted on the pool; unhandled it kills the process.
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', onError));
  return pool;
}

export function createDb(pool: pg.Pool): Kysely<DB> {
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}
