import { EventEmitter } from 'node:events';
import { ConfigError, loadConfig, loadDotEnv, withSecret } from '@tollgate/config';
import {
  createDeps,
  type Deps,
  HEARTBEAT_INTERVAL_MS,
  recordHeartbeat,
  removeHeartbeat,
  unlockDeadWorkers,
} from '@tollgate/core';
import { createPool } from '@tollgate/db';
import { answerMetricsRequests, bindMetricSources, createLogger } from '@tollgate/telemetry';
import { run, type WorkerEvents, Logger as WorkerLogger } from 'graphile-worker';
import { buildTaskList, crontab, type WorkerRuntime } from './tasks.ts';

loadDotEnv();
let config: ReturnType<typeof loadConfig>;
try {
  // Without TOLLGATE_SECRET, share the one stored under TOLLGATE_HOME (compose mounts one volume).
  config = withSecret(loadConfig());
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  for (const line of e.problems) process.stderr.write(`  ${line}\n`);
  process.exit(1);
}
const log = createLogger(config).child({ process: 'worker' });
if (!config.databaseUrl) {
  log.fatal('DATABASE_URL is required (pnpm start passes it to the worker)');
  process.exit(1);
}

// Every running job holds a client, and graphile-worker needs more to fetch and complete jobs.
const pool = createPool(config.databaseUrl, {
  max: Math.max(10, config.workerConcurrency + 2) + 4,
  applicationName: 'tollgate-worker',
  onError: (err) => log.warn({ err: err.message }, 'database connection error'),
});
const deps: Deps = createDeps({ config, log, pool });
// The primary merges these into every /metrics scrape (pnpm start forks this process with IPC).
bindMetricSources(deps.metrics, { pool });
answerMetricsRequests(deps.metrics.registry);
const workerIds = new Set<string>();
const runtime: WorkerRuntime = { deps, workerIds };

const events: WorkerEvents = new EventEmitter() as WorkerEvents;
// Jobs are locked under the pool's id (graphile-worker's local queue fetches for the pool) as well
// as under each worker's: both are beaten for, so a dead process's locks are all found.
events.on('pool:create', ({ workerPool }) => {
  workerIds.add(workerPool.id);
  void recordHeartbeat(deps, workerPool.id).catch((err) =>
    log.warn({ err: String(err) }, 'heartbeat failed'),
  );
});
events.on('worker:create', ({ worker }) => {
  workerIds.add(worker.workerId);
  // Beat at once so /readyz turns ready without waiting for the first cron minute.
  void recordHeartbeat(deps, worker.workerId).catch((err) =>
    log.warn({ err: String(err) }, 'heartbeat failed'),
  );
});

const workerLogger = new WorkerLogger((scope) => (level, message, meta) => {
  const l = log.child({ scope: scope.label, jobId: scope.jobId });
  const lvl = level === 'error' ? 'error' : level === 'warning' ? 'warn' : 'debug';
  l[lvl]({ meta }, message);
});

const runner = await run({
  pgPool: pool,
  taskList: buildTaskList(runtime),
  crontab,
  concurrency: config.workerConcurrency,
  noHandleSignals: true,
  logger: workerLogger,
  events,
});
log.info({ concurrency: config.workerConcurrency }, 'worker started');

// Liveness on a timer of its own (not only the cron minute), and the dead-worker sweep right away
// and every two beats: a worker killed with -9 has its jobs back within seconds when it is
// restarted on the same host, within DEAD_WORKER_SECONDS elsewhere.
async function beatAndSweep(sweep: boolean) {
  try {
    for (const id of workerIds) await recordHeartbeat(deps, id);
    if (sweep) {
      const dead = await unlockDeadWorkers(deps);
      if (dead.length > 0) log.warn({ workers: dead }, 'released jobs of dead workers');
    }
  } catch (err) {
    log.warn({ err: String(err) }, 'heartbeat or sweep failed');
  }
}
let beats = 0;
void beatAndSweep(true);
const beatTimer = setInterval(() => void beatAndSweep(++beats % 2 === 0), HEARTBEAT_INTERVAL_MS);
beatTimer.unref();

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'worker stopping: finishing running jobs');
  clearInterval(beatTimer);
  // Running jobs finish (tasks honour helpers.abortSignal); unstarted ones stay queued.
  await runner.stop();
  await deps.limiter.close();
  await deps.requestLog.close();
  for (const id of workerIds) await removeHeartbeat(deps, id).catch(() => {});
  await pool.end();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('disconnect', () => void shutdown('disconnect'));
