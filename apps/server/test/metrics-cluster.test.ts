import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { enqueue } from '@tollgate/core';
import { createTestDb, type TestDb } from '@tollgate/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSamples, sampleValue } from './metrics-text.ts';

// `pnpm start` for real: a primary, two node:cluster server processes and the graphile worker.
const main = fileURLToPath(new URL('../src/main.js', import.meta.url));

let testDb: TestDb;
let proc: ChildProcess;
let base: string;
let output = '';

beforeAll(async () => {
  testDb = await createTestDb();
  proc = spawn(process.execPath, [main], {
    env: {
      ...process.env,
      DATABASE_URL: testDb.url,
      WEB_CONCURRENCY: '2',
      WORKER_CONCURRENCY: '2',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      TOLLGATE_SECRET: 'cluster-metrics-test-secret-0123456789abcdef',
      TOLLGATE_ADMIN_EMAIL: 'admin@example.test',
      TOLLGATE_ADMIN_PASSWORD: 'cluster-admin-password',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  base = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m?.[1]) resolve(m[1]);
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    proc.once('exit', (code) => reject(new Error(`server exited ${code}:\n${output}`)));
  });
});

afterAll(async () => {
  if (proc && proc.exitCode === null) {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    // The primary stops its children first; never leave it running if that hangs.
    const force = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(force);
  }
  await testDb?.drop();
});

async function scrape(): Promise<string> {
  const res = await fetch(`${base}/metrics`, { headers: { connection: 'close' } });
  expect(res.status).toBe(200);
  return res.text();
}

const HTTP = 'tollgate_http_request_duration_seconds_count';

/** A GET on a connection of its own (`agent: false`), so the processes take turns answering. */
function getOnNewConnection(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a 2-process cluster with the worker', () => {
  it('one scrape shows the sum of every server process', async () => {
    const n = 20;
    // A fresh connection each time: node:cluster hands connections to the processes in turn.
    for (let i = 0; i < n; i++) expect(await getOnNewConnection('/healthz')).toBe(200);
    const text = await scrape();
    const samples = parseSamples(text);
    expect(sampleValue(samples, HTTP, { route: '/healthz', method: 'GET', status: '200' })).toBe(n);
    // Each server process reports its pool, the worker its own: the gauge is their sum.
    expect(
      sampleValue(samples, 'tollgate_db_pool_connections', { state: 'total' }),
    ).toBeGreaterThan(0);
    // A second scrape, possibly answered by the other process, sees the same totals.
    const again = parseSamples(await scrape());
    expect(sampleValue(again, HTTP, { route: '/healthz', method: 'GET', status: '200' })).toBe(n);
  });

  it("includes the graphile worker's job metrics in the same scrape", async () => {
    await enqueue(testDb.db, 'worker_heartbeat', {});
    await enqueue(testDb.db, 'worker_heartbeat', {});
    // Wait (bounded) until the worker has run both jobs; the scrape is the observable.
    let done: number | undefined;
    for (let i = 0; i < 100; i++) {
      const samples = parseSamples(await scrape());
      done = sampleValue(samples, 'tollgate_jobs_total', {
        task: 'worker_heartbeat',
        outcome: 'success',
      });
      if ((done ?? 0) >= 2) {
        expect(
          sampleValue(samples, 'tollgate_job_duration_seconds_count', { task: 'worker_heartbeat' }),
        ).toBe(done);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(done).toBeGreaterThanOrEqual(2);
  });
});
