import type { Config } from '@tollgate/config';
import type { DB } from '@tollgate/db';
import type { ProviderRegistry } from '@tollgate/providers';
import type { Logger, Metrics } from '@tollgate/telemetry';
import type { Kysely } from 'kysely';
import type pg from 'pg';

export type Clock = { now: () => Date };
export const systemClock: Clock = { now: () => new Date() };

/** What every service needs; built once per process by the app's composition root. */
export type Deps = {
  db: Kysely<DB>;
  pool: pg.Pool;
  config: Config;
  log: Logger;
  metrics: Metrics;
  providers: ProviderRegistry;
  clock: Clock;
  /** When this process started, for uptime. */
  startedAt: Date;
};
