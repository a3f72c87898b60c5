import type { Config } from '@tollgate/config';
import type { DB } from '@tollgate/db';
import type { ProviderRegistry } from '@tollgate/providers';
import type { Logger, Metrics } from '@tollgate/telemetry';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { AuthRuntime } from './auth/auth-runtime.ts';
import type { RequestLogWriter } from './requests/request-log.writer.ts';
import type { Limiter } from './spend/limiter.ts';
import type { ResponseCache } from './spend/response-cache.ts';

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
  /** Per-process credential cache + invalidation listener (createAuthRuntime). */
  auth: AuthRuntime;
  /** The buffered request-log writer: record() never blocks; close() on shutdown. */
  requestLog: RequestLogWriter;
  /** Budgets and rate limits shared through Postgres (leases); close() gives leases back. */
  limiter: Limiter;
  /** The exact-match response cache (Postgres + a process-local layer). */
  responseCache: ResponseCache;
  /** When this process started, for uptime. */
  startedAt: Date;
};
