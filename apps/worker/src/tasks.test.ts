import { randomUUID } from 'node:crypto';
import {
  type Deps,
  enqueue,
  HEARTBEAT_STALE_SECONDS,
  purgeStoredObjects,
  unlockDeadWorkers,
} from '@tollgate/core';
import { createTestDeps, createTestUser, testLogEntry } from '@tollgate/core/testing';
import { createTestDb, type TestDb } from '@tollgate/test-kit';
import { Logger, runOnce } from 'graphile-worker';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTaskList, crontab, type WorkerRuntime } from './tasks.ts';

let testDb: TestDb;
let deps: Deps;
const silent = new Logger(() => () => {});

beforeAll(async () => {
  testDb = await createTestDb();
  deps = createTestDeps(testDb.db, testDb.pool);
});
afterAll(() => testDb.drop());

beforeEach(async () => {
  await sql`delete from graphile_worker._private_jobs`.execute(testDb.db);
  await testDb.db.deleteFrom('worker_heartbeats').execute();
});

/** Runs every job that is ready now through the real task list, then returns. */
async function runReadyJobs(workerIds: string[]): Promise<void> {
  const rt: WorkerRuntime = { deps, workerIds: new Set(workerIds) };
  await runOnce({ pgPool: testDb.pool, taskList: buildTaskList(rt), logger: silent });
  // runOnce can resolve before its last complete/fail write lands: wait until no job is locked.
  for (let i = 0; i < 100; i++) {
    const r = await sql<{ n: number }>`select count(*)::int as n from graphile_worker._private_jobs
      where locked_by is not null`.execute(testDb.db);
    if (r.rows[0]?.n === 0) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('jobs stayed locked after runOnce');
}

type JobRow = { task_identifier: string; attempts: number; last_error: string | null };
async function jobs(): Promise<JobRow[]> {
  const r = await sql<JobRow>`select t.identifier as task_identifier, j.attempts, j.last_error
    from graphile_worker._private_jobs j
    join graphile_worker._private_tasks t on t.id = j.task_id order by j.id`.execute(testDb.db);
  return r.rows;
}

async function heartbeatIds(): Promise<string[]> {
  const rows = await testDb.db
    .selectFrom('worker_heartbeats')
    .select('worker_id')
    .orderBy('worker_id')
    .execute();
  return rows.map((r) => r.worker_id);
}

describe('task registry', () => {
  it('covers every crontab task', () => {
    const list = buildTaskList({ deps, workerIds: new Set() });
    for (const line of crontab.split('\n')) {
      const task = line.split(/\s+/)[5] as string;
      expect(Object.keys(list)).toContain(task);
    }
  });

  it('runs the heartbeat task: one worker_heartbeats row per worker id, job completed', async () => {
    await enqueue(testDb.db, 'worker_heartbeat', {});
    await runReadyJobs(['w-a', 'w-b']);
    expect(await heartbeatIds()).toEqual(['w-a', 'w-b']);
    const row = await testDb.db
      .selectFrom('worker_heartbeats')
      .selectAll()
      .where('worker_id', '=', 'w-a')
      .executeTakeFirstOrThrow();
    expect(row.pid).toBe(process.pid);
    expect(await jobs()).toEqual([]); // graphile-worker deletes completed jobs
  });

  it('a second beat updates the row instead of adding one', async () => {
    await enqueue(testDb.db, 'worker_heartbeat', {});
    await runReadyJobs(['w-a']);
    await enqueue(testDb.db, 'worker_heartbeat', {}, { jobKey: 'again' });
    await runReadyJobs(['w-a']);
    expect(await heartbeatIds()).toEqual(['w-a']);
  });

  it('fails a job whose payload does not parse, without running the handler', async () => {
    await sql`select graphile_worker.add_job('worker_heartbeat', payload := '[1,2,3]'::json,
      max_attempts := 1)`.execute(testDb.db);
    await runReadyJobs(['w-should-not-beat']);
    const [job] = await jobs();
    expect(job).toMatchObject({ task_identifier: 'worker_heartbeat', attempts: 1 });
    expect(job?.last_error).toBeTruthy();
    expect(await heartbeatIds()).toEqual([]);
  });

  it('refuses to enqueue a payload its schema rejects', async () => {
    await expect(enqueue(testDb.db, 'worker_heartbeat', 42 as never)).rejects.toThrow();
    expect(await jobs()).toEqual([]);
  });
});

describe('unlockDeadWorkers', () => {
  async function lockedJob(lockedBy: string): Promise<void> {
    await sql`select graphile_worker.add_job('worker_heartbeat', job_key := ${lockedBy})`.execute(
      testDb.db,
    );
    await sql`update graphile_worker._private_jobs set locked_by = ${lockedBy}, locked_at = now()
      where key = ${lockedBy}`.execute(testDb.db);
  }
  async function lockedBy(): Promise<Record<string, string | null>> {
    const r = await sql<{ key: string; locked_by: string | null }>`
      select key, locked_by from graphile_worker._private_jobs order by key`.execute(testDb.db);
    return Object.fromEntries(r.rows.map((x) => [x.key, x.locked_by]));
  }

  it('unlocks the jobs of stale workers only, and forgets those workers', async () => {
    const old = new Date(Date.now() - HEARTBEAT_STALE_SECONDS * 3 * 1000);
    await testDb.db
      .insertInto('worker_heartbeats')
      .values([
        { worker_id: 'dead-1', hostname: 'h', pid: 1, seen_at: old },
        { worker_id: 'live-1', hostname: 'h', pid: 2 },
      ])
      .execute();
    await lockedJob('dead-1');
    await lockedJob('live-1');
    await lockedJob('unknown-1'); // no heartbeat row at all: not ours to judge

    expect(await unlockDeadWorkers(deps)).toEqual(['dead-1']);
    expect(await lockedBy()).toEqual({
      'dead-1': null,
      'live-1': 'live-1',
      'unknown-1': 'unknown-1',
    });
    expect(await heartbeatIds()).toEqual(['live-1']);
  });

  it('does nothing when every worker is fresh', async () => {
    await testDb.db
      .insertInto('worker_heartbeats')
      .values({ worker_id: 'live-2', hostname: 'h', pid: 3 })
      .execute();
    await lockedJob('live-2');
    expect(await unlockDeadWorkers(deps)).toEqual([]);
    expect(await lockedBy()).toEqual({ 'live-2': 'live-2' });
  });

  it('the released job runs again as its next attempt', async () => {
    const old = new Date(Date.now() - HEARTBEAT_STALE_SECONDS * 3 * 1000);
    await testDb.db
      .insertInto('worker_heartbeats')
      .values({ worker_id: 'dead-2', hostname: 'h', pid: 4, seen_at: old })
      .execute();
    await lockedJob('dead-2');
    await sql`update graphile_worker._private_jobs set attempts = 1`.execute(testDb.db);
    await unlockDeadWorkers(deps);
    await runReadyJobs(['w-after']);
    expect(await jobs()).toEqual([]);
    expect(await heartbeatIds()).toEqual(['w-after']);
  });
});

describe('usage_rollup', () => {
  it('rolls finished hours of the request log into usage_hourly and purges dead spend state', async () => {
    const user = await createTestUser(testDb.db);
    const old = new Date(Date.now() - 3 * 3_600_000);
    deps.requestLog.record(testLogEntry(user, { createdAt: old }));
    deps.requestLog.record(testLogEntry(user, { createdAt: old }));
    await deps.requestLog.flush();
    const expired = new Date(Date.now() - 2 * 3_600_000);
    await testDb.db
      .insertInto('limit_leases')
      .values({
        holder: randomUUID(),
        subject: `user:${user.id}`,
        metric: 'usd',
        period: 'day',
        window_start: expired,
        amount: 1,
        expires_at: expired,
      })
      .execute();

    await enqueue(testDb.db, 'usage_rollup', {});
    await runReadyJobs(['w-rollup']);
    expect(await jobs()).toEqual([]);
    const hourly = await testDb.db
      .selectFrom('usage_hourly')
      .selectAll()
      .where('user_id', '=', user.id)
      .execute();
    expect(hourly).toHaveLength(1);
    expect(hourly[0]).toMatchObject({ requests: '2', input_tokens: '2', output_tokens: '2' });
    expect(hourly[0]?.hour.getTime()).toBe(old.getTime() - (old.getTime() % 3_600_000));
    const leases = await testDb.db.selectFrom('limit_leases').selectAll().execute();
    expect(leases).toEqual([]);
  });
});

describe('purge_stored_objects', () => {
  it('purges responses, files and ended batches past their retention; keeps the rest', async () => {
    const user = await createTestUser(testDb.db);
    const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000);
    const content = { input: '[]', output: '[]', body: '{}' };
    await testDb.db
      .insertInto('responses')
      .values([
        { id: 'resp_old', user_id: user.id, model: 'm', ...content, created_at: daysAgo(31) },
        { id: 'resp_new', user_id: user.id, model: 'm', ...content, created_at: daysAgo(29) },
      ])
      .execute();
    const file = { user_id: user.id, purpose: 'batch', filename: 'f.jsonl', bytes: 1 };
    await testDb.db
      .insertInto('files')
      .values([
        { id: 'file-old', ...file, content: Buffer.from('x'), created_at: daysAgo(31) },
        { id: 'file-new', ...file, content: Buffer.from('y'), created_at: daysAgo(1) },
      ])
      .execute();
    // Ended 31 days ago (gone), ended yesterday (kept), and created long ago but still running.
    const batch = (finishedAt: Date | null) => ({
      id: randomUUID(),
      user_id: user.id,
      status: finishedAt ? ('completed' as const) : ('running' as const),
      total: 1,
      done: finishedAt ? 1 : 0,
      created_at: daysAgo(40),
      finished_at: finishedAt,
    });
    const [oldBatch, newBatch, running] = [batch(daysAgo(31)), batch(daysAgo(1)), batch(null)];
    await testDb.db.insertInto('batches').values([oldBatch, newBatch, running]).execute();
    const items = await testDb.db
      .insertInto('batch_items')
      .values(
        [oldBatch, newBatch, running].map((b) => ({
          batch_id: b.id,
          idx: 0,
          provider: 'mock',
          request: '{}',
          status: 'succeeded' as const,
        })),
      )
      .returning(['id', 'batch_id'])
      .execute();
    await testDb.db
      .insertInto('batch_item_charges')
      .values(items.map((i) => ({ batch_item_id: i.id, log_id: randomUUID() })))
      .execute();

    await enqueue(testDb.db, 'purge_stored_objects', {});
    await runReadyJobs(['w-purge']);
    expect(await jobs()).toEqual([]);

    const ids = async (table: 'responses' | 'files' | 'batches') =>
      (await testDb.db.selectFrom(table).select('id').where('user_id', '=', user.id).execute())
        .map((r) => r.id)
        .sort();
    expect(await ids('responses')).toEqual(['resp_new']);
    expect(await ids('files')).toEqual(['file-new']);
    expect(await ids('batches')).toEqual([newBatch.id, running.id].sort());
    const left = await testDb.db
      .selectFrom('batch_items')
      .select('batch_id')
      .where(
        'id',
        'in',
        items.map((i) => i.id),
      )
      .execute();
    expect(left.map((l) => l.batch_id).sort()).toEqual([newBatch.id, running.id].sort());
    const guards = await testDb.db
      .selectFrom('batch_item_charges')
      .select('batch_item_id')
      .where(
        'batch_item_id',
        'in',
        items.map((i) => i.id),
      )
      .execute();
    expect(guards).toHaveLength(2);
    expect(guards.map((g) => g.batch_item_id)).not.toContain(
      items.find((i) => i.batch_id === oldBatch.id)?.id,
    );

    // 0 keeps everything forever.
    const keepAll = {
      ...deps,
      config: {
        ...deps.config,
        responsesRetentionDays: 0,
        filesRetentionDays: 0,
        batchRetentionDays: 0,
      },
      clock: { now: () => daysAgo(-3650) },
    };
    expect(await purgeStoredObjects(keepAll)).toEqual({ responses: 0, files: 0, batches: 0 });
    expect(await ids('responses')).toEqual(['resp_new']);
  });
});
