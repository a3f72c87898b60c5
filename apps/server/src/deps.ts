import type { Config } from '@tollgate/config';
import { createDeps, type Deps } from '@tollgate/core';
import { createPool } from '@tollgate/db';
import type { Logger } from '@tollgate/telemetry';

/** The composition root of one server process: its pool, and every service on it. */
export function createServerDeps(config: Config, log: Logger, databaseUrl: string): Deps {
  const pool = createPool(databaseUrl, {
    max: 20,
    applicationName: 'tollgate-server',
    onError: (err) => log.warn({ err: err.message }, 'database connection error'),
  });
  return createDeps({ config, log, pool });
}
