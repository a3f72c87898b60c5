import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Deps, getBatch, seedModels, submitBatch } from '@tollgate/core';
import { createTestDeps, createTestUser, type TestUser } from '@tollgate/core/testing';
import { createTestDb, type TestDb } from '@tollgate/test-kit';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const localNode = `${repoRoot}node_modules/.bin/node`;
const nodeBin = existsSync(localNode) ? localNode : process.execPath;
const entry = fileURLToPath(new URL('./main.ts', import.meta.url));

let testDb: TestDb;
let deps: Deps;
let member: TestUser;
const home = mkdtempSync(join(tmpdir(), 'tollgate-crash-'));

beforeAll(async () => {
  testDb = await createTestDb();
  deps = createTestDeps(testDb.db, testDb.pool);
  await seedModels(deps);
  member = await createTestUser(testDb.db);
});
afterAll(async () => {
  await deps.requestLog.close();
  await testDb.drop();
});

function startWorker(): { proc: ChildProcess; exited: Promise<number | null> } {
  const proc = spawn(nodeBin, [entry], {
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: testDb.url,
      TOLLGATE_HOME: home,
      TOLLGATE_SECRET: 'crash-test-secret-0123456789abcdefghijklmnop',
      WORKER_CONCURRENCY: '4',
      BATCH_PROVIDER_CONCURRENCY: '4',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, exited };
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, tries = 600) {
  for (let i = 0; i < tries; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out: ${what}`);
}

describe('a batch survives its worker failing', { timeout: 120_000 }, () => {
  it('SIGKILLed mid-batch and replaced: the batch finishes with every item done once and billed once', async () => {
    const total = 40;
    // mock-slow answers "a b" in ~50 ms: slow enough to be killed mid-batch.
    const items = Array.from({ length: total }, (_, i) => ({
      model: 'mock-slow',
      messages: [{ role: 'user' as const, content: `a ${i}` }],
    }));
    const b = await submitBatch(deps, member.principal, items);

    const first = startWorker();
    await until(async () => {
      const got = await getBatch(deps, member.principal, b.id);
      return got.counts.succeeded >= 8 ? got : undefined;
    }, 'first items done');
    first.proc.kill('SIGKILL');
    await first.exited;
    const mid = await getBatch(deps, member.principal, b.id);
    expect(mid.counts.succeeded).toBeLessThan(total); // killed mid-batch
    const locked = await sql<{ n: number }>`select count(*)::int as n
      from graphile_worker._private_jobs where locked_by is not null`.execute(testDb.db);
    expect(locked.rows[0]?.n).toBeGreaterThan(0); // the dead worker's jobs are still locked

    const second = startWorker();
    try {
      const done = await until(async () => {
        const got = await getBatch(deps, member.principal, b.id);
        return got.finishedAt ? got : undefined;
      }, 'batch finished after restart');
      expect(done.status).toBe('completed');
      expect(done.counts).toMatchObject({ total, succeeded: total, failed: 0, running: 0 });
    } finally {
      second.proc.kill('SIGTERM');
      await second.exited;
    }

    const rows = await sql<{ batch_item_id: string; n: number }>`
      select l.batch_item_id, count(*)::int as n from request_logs l
      where l.batch_item_id in (select id::text from batch_items where batch_id = ${b.id}::uuid)
      group by l.batch_item_id`.execute(testDb.db);
    expect(rows.rows).toHaveLength(total);
    expect(rows.rows.every((r) => r.n === 1)).toBe(true);
    const cost = await sql<{ sum: string }>`select sum(cost_usd)::text as sum from request_logs
      where batch_item_id in (select id::text from batch_items where batch_id = ${b.id}::uuid)`.execute(
      testDb.db,
    );
    const final = await getBatch(deps, member.principal, b.id);
    expect(Number(final.costUsd)).toBeCloseTo(Number(cost.rows[0]?.sum), 12);
  });

  it('loses its database connections mid-batch (as in a Postgres restart) and recovers', async () => {
    const total = 40;
    const items = Array.from({ length: total }, (_, i) => ({
      model: 'mock-slow',
      messages: [{ role: 'user' as const, content: `a ${i}` }],
    }));
    const b = await submitBatch(deps, member.principal, items);
    const w = startWorker();
    try {
      await until(async () => {
        const got = await getBatch(deps, member.principal, b.id);
        return got.counts.succeeded >= 8 ? got : undefined;
      }, 'first items done');
      // Every connection of the worker is cut, mid-transaction or idle: what a restart does.
      const cut = await sql<{ n: number }>`select count(pg_terminate_backend(pid))::int as n
        from pg_stat_activity where application_name = 'tollgate-worker'`.execute(testDb.db);
      expect(cut.rows[0]?.n).toBeGreaterThan(0);
      const done = await until(async () => {
        const got = await getBatch(deps, member.principal, b.id);
        return got.finishedAt ? got : undefined;
      }, 'batch finished after the connections were cut');
      expect(done.status).toBe('completed');
      expect(done.counts).toMatchObject({ total, succeeded: total });
    } finally {
      w.proc.kill('SIGTERM');
      await w.exited;
    }
    const rows = await sql<{ n: number; items: number }>`
      select count(*)::int as n, count(distinct batch_item_id)::int as items from request_logs
      where batch_item_id in (select id::text from batch_items where batch_id = ${b.id}::uuid)`.execute(
      testDb.db,
    );
    expect(rows.rows[0]).toEqual({ n: total, items: total });
  });
});
