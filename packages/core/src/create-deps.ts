import type { Config } from '@tollgate/config';
import { createDb, type DB } from '@tollgate/db';
import { createProviders } from '@tollgate/providers';
import { createMetrics, createTracing, type Logger } from '@tollgate/telemetry';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import { Registry } from 'prom-client';
import { createAuthRuntime } from './auth/auth-runtime.ts';
import { type Clock, type Deps, systemClock } from './deps.ts';
import { createRequestLogWriter } from './requests/request-log.writer.ts';
import { createLimiter } from './spend/limiter.ts';
import { createResponseCache } from './spend/response-cache.ts';

/**
 * Builds every per-process service on one pool: the composition shared by server processes, the
 * worker and tests (which pass their own db and clock).
 */
export function createDeps(opts: {
  config: Config;
  log: Logger;
  pool: pg.Pool;
  db?: Kysely<DB>;
  clock?: Clock;
  /** Limit lease lifetime (tests shorten it); default LEASE_TTL_MS. */
  leaseTtlMs?: number | undefined;
}): Deps {
  const { config, log, pool } = opts;
  const db = opts.db ?? createDb(pool);
  const metrics = createMetrics(new Registry());
  const clock = opts.clock ?? systemClock;
  const tracing = createTracing({ endpoint: config.otlpEndpoint, protocol: config.otlpProtocol });
  const providers = createProviders(config);
  return {
    db,
    pool,
    config,
    log,
    requestLog: createRequestLogWriter({
      db,
      log,
      onDrop: () => metrics.requestLogDropped.inc(),
    }),
    metrics,
    providers: tracing ? tracing.traceProviders(providers) : providers,
    clock,
    limiter: createLimiter({ db, log, clock, leaseTtlMs: opts.leaseTtlMs }),
    responseCache: createResponseCache({ db, log, clock, ttlSeconds: config.cacheTtlSeconds }),
    auth: createAuthRuntime(pool, log, config.databaseDirectUrl),
    startedAt: new Date(),
    tracing,
  };
}
