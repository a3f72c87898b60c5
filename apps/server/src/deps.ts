import type { Config } from '@tollgate/config';
import { createAuthRuntime, createRequestLogWriter, type Deps, systemClock } from '@tollgate/core';
import { createDb, createPool } from '@tollgate/db';
import { createProviders } from '@tollgate/providers';
import { createMetrics, type Logger } from '@tollgate/telemetry';
import { Registry } from 'prom-client';

/** The composition root of one server process: pool, db, clock. */
export function createServerDeps(config: Config, log: Logger, databaseUrl: string): Deps {
  const pool = createPool(databaseUrl, {
    max: 20,
    applicationName: 'tollgate-server',
    onError: (err) => log.warn({ err: err.message }, 'database connection error'),
  });
  const db = createDb(pool);
  return {
    db,
    pool,
    requestLog: createRequestLogWriter({ db, log }),
    config,
    log,
    metrics: createMetrics(new Registry()),
    providers: createProviders(config),
    clock: systemClock,
    auth: createAuthRuntime(pool, log),
    startedAt: new Date(),
  };
}
