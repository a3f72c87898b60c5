import type { DB } from '@tollgate/db';
import { type Kysely, sql } from 'kysely';
import { z } from 'zod';

/**
 * The task list, typed: each job name with the zod schema of its payload. The worker parses every
 * payload with it before running the task (old jobs may carry old shapes). Cron adds `_cron`;
 * z.object strips it.
 */
export const jobPayloads = {
  worker_heartbeat: z.object({}),
  unlock_dead_workers: z.object({}),
  purge_auth_tokens: z.object({}),
  request_log_partitions: z.object({}),
  audit_retention: z.object({}),
  usage_rollup: z.object({}),
  // Batches (issue #11): one chunk of a batch's items; a finished batch's webhook; key cleanup.
  batch_chunk: z.object({
    batchId: z.uuid(),
    provider: z.string().min(1),
    from: z.number().int().min(0),
    to: z.number().int().min(0),
  }),
  webhook_delivery: z.object({ batchId: z.uuid() }),
  purge_idempotency_keys: z.object({}),
  // Retention of stored /v1 responses, files and ended batches (issue #17).
  purge_stored_objects: z.object({}),
} as const;

export type JobName = keyof typeof jobPayloads;
export type JobPayload<N extends JobName> = z.output<(typeof jobPayloads)[N]>;

/** Enqueues in the caller's connection or transaction: the job exists iff its rows committed. */
export async function enqueue<N extends JobName>(
  db: Kysely<DB>,
  name: N,
  payload: z.input<(typeof jobPayloads)[N]>,
  opts: { jobKey?: string; queueName?: string; maxAttempts?: number; runAt?: Date } = {},
): Promise<void> {
  const body = JSON.stringify(jobPayloads[name].parse(payload));
  await sql`select graphile_worker.add_job(${name}, payload := ${body}::json,
    queue_name := ${opts.queueName ?? null}, job_key := ${opts.jobKey ?? null},
    max_attempts := ${opts.maxAttempts ?? 25}, run_at := ${opts.runAt ?? null})`.execute(db);
}
