import {
  type BatchRunOptions,
  type DeliveryOptions,
  type Deps,
  deliverBatchWebhook,
  type JobName,
  type JobPayload,
  jobPayloads,
  maintainRequestLog,
  processBatchChunk,
  purgeAuditLog,
  purgeAuthTokens,
  purgeIdempotencyKeys,
  purgeSpendState,
  purgeStoredObjects,
  recordHeartbeat,
  rollupUsage,
  unlockDeadWorkers,
  usageRollupLagMs,
} from '@tollgate/core';
import type { JobHelpers, Task, TaskList } from 'graphile-worker';

export type WorkerRuntime = {
  deps: Deps;
  /** Ids of this process's graphile-worker workers (as written into `locked_by`). */
  workerIds: ReadonlySet<string>;
  /** Gateway tuning and item retry delays for batch items (tests shorten them). */
  batch?: BatchRunOptions;
  /** DNS and limits for webhook deliveries (tests play DNS). */
  webhook?: DeliveryOptions;
};

type Handlers = {
  [N in JobName]: (rt: WorkerRuntime, payload: JobPayload<N>, helpers: JobHelpers) => Promise<void>;
};

/** What each job does; a new entry in `jobPayloads` is a compile error here until handled. */
export const handlers: Handlers = {
  worker_heartbeat: async (rt) => {
    for (const id of rt.workerIds) await recordHeartbeat(rt.deps, id);
  },
  request_log_partitions: async (rt, _payload, helpers) => {
    const r = await maintainRequestLog(rt.deps);
    if (r.partitionsCreated > 0)
      helpers.logger.info(`request log partitions created: ${r.partitionsCreated}`);
    if (r.partitionsDropped.length > 0 || r.bodiesDeleted > 0)
      helpers.logger.info(
        `request log retention: dropped ${r.partitionsDropped.join(', ') || 'no partitions'}, ${r.bodiesDeleted} bodies`,
      );
  },
  purge_auth_tokens: async (rt, _payload, helpers) => {
    const r = await purgeAuthTokens(rt.deps);
    helpers.logger.info(
      `purged ${r.refreshTokens} refresh tokens, ${r.loginFailures} login failures`,
    );
  },
  audit_retention: async (rt, _payload, helpers) => {
    const n = await purgeAuditLog(rt.deps);
    if (n > 0) helpers.logger.info(`audit log retention: purged ${n} rows`);
  },
  usage_rollup: async (rt, _payload, helpers) => {
    const r = await rollupUsage(rt.deps, { lagMs: usageRollupLagMs(rt.deps.config) });
    const purged = await purgeSpendState(rt.deps);
    if (r.hours > 0) helpers.logger.info(`usage rolled up: ${r.hours} hours`);
    if (purged.windows + purged.leases + purged.cacheEntries > 0)
      helpers.logger.info(
        `spend state purged: ${purged.windows} windows, ${purged.leases} leases, ${purged.cacheEntries} cache entries`,
      );
  },
  unlock_dead_workers: async (rt, _payload, helpers) => {
    const ids = await unlockDeadWorkers(rt.deps);
    if (ids.length > 0) helpers.logger.warn(`released jobs of dead workers: ${ids.join(', ')}`);
  },
  batch_chunk: async (rt, payload, helpers) => {
    await processBatchChunk(
      rt.deps,
      payload,
      { id: helpers.job.id, signal: helpers.abortSignal },
      rt.batch,
    );
  },
  webhook_delivery: async (rt, payload, helpers) => {
    await deliverBatchWebhook(rt.deps, payload.batchId, helpers.job.attempts, rt.webhook);
  },
  purge_idempotency_keys: async (rt, _payload, helpers) => {
    const n = await purgeIdempotencyKeys(rt.deps);
    if (n > 0) helpers.logger.info(`purged ${n} idempotency keys`);
  },
  purge_stored_objects: async (rt, _payload, helpers) => {
    const r = await purgeStoredObjects(rt.deps);
    if (r.responses + r.files + r.batches > 0)
      helpers.logger.info(
        `stored objects retention: purged ${r.responses} responses, ${r.files} files, ${r.batches} batches`,
      );
  },
};

/** Maximum attempts per task; graphile-worker's default (25) suits most. */
export const maxAttempts: Partial<Record<JobName, number>> = {
  worker_heartbeat: 1,
  unlock_dead_workers: 3,
  purge_auth_tokens: 3,
  request_log_partitions: 5,
  audit_retention: 3,
  usage_rollup: 5,
  batch_chunk: 25,
  webhook_delivery: 8,
  purge_idempotency_keys: 3,
  purge_stored_objects: 3,
};

/**
 * The graphile-worker task list built from the typed registry: each payload is parsed with its
 * zod schema before the handler runs (old jobs may carry old shapes; a bad one fails loudly).
 */
export function buildTaskList(rt: WorkerRuntime): TaskList {
  const list: TaskList = {};
  for (const name of Object.keys(jobPayloads) as JobName[]) {
    const task: Task = async (payload, helpers) => {
      const parsed = jobPayloads[name].parse(payload ?? {});
      const log = rt.deps.log.child({
        task: name,
        jobId: helpers.job.id,
        attempt: helpers.job.attempts,
      });
      const started = performance.now();
      const { jobs, jobDuration } = rt.deps.metrics;
      const seconds = () => (performance.now() - started) / 1000;
      try {
        await (handlers[name] as Handlers[JobName])(rt, parsed as never, helpers);
        const s = seconds();
        jobs.inc({ task: name, outcome: 'success' });
        jobDuration.observe({ task: name }, s);
        log.info({ ms: Math.round(s * 1000) }, 'job done');
      } catch (err) {
        const s = seconds();
        jobs.inc({ task: name, outcome: 'failure' });
        jobDuration.observe({ task: name }, s);
        log.warn({ ms: Math.round(s * 1000), err: String(err) }, 'job failed');
        throw err;
      }
    };
    list[name] = task;
  }
  return list;
}

/** UTC crontab; each line's `id` is fixed forever (graphile-worker tracks runs by it). */
export const crontab = [
  '* * * * * worker_heartbeat ?id=worker_heartbeat&max=1',
  '*/2 * * * * unlock_dead_workers ?id=unlock_dead_workers&max=3',
  '17 3 * * * request_log_partitions ?id=request_log_partitions&max=5',
  '23 * * * * purge_auth_tokens ?id=purge_auth_tokens&max=3',
  '41 3 * * * audit_retention ?id=audit_retention&max=3',
  '*/15 * * * * usage_rollup ?id=usage_rollup&max=5',
  '41 * * * * purge_idempotency_keys ?id=purge_idempotency_keys&max=3',
  '53 * * * * purge_stored_objects ?id=purge_stored_objects&max=3',
].join('\n');
