import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createTestDb, type TestDb } from '@tollgate/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const localNode = `${repoRoot}node_modules/.bin/node`;
const nodeBin = existsSync(localNode) ? localNode : process.execPath;
const entry = fileURLToPath(new URL('./main.ts', import.meta.url));

let testDb: TestDb;

beforeAll(async () => {
  testDb = await createTestDb();
});
afterAll(() => testDb.drop());

async function heartbeatIds(): Promise<string[]> {
  const rows = await testDb.db.selectFrom('worker_heartbeats').select('worker_id').execute();
  return rows.map((r) => r.worker_id);
}

async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out: ${what}`);
}

describe('worker process', { timeout: 60_000 }, () => {
  it('beats at start, and on SIGTERM stops cleanly (exit 0) and removes its heartbeat', async () => {
    const proc = spawn(nodeBin, [entry], {
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: testDb.url,
        WORKER_CONCURRENCY: '2',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    try {
      const ids = await until(async () => {
        const ids = await heartbeatIds();
        return ids.length > 0 ? ids : undefined;
      }, 'first heartbeat');
      expect(ids.length).toBeGreaterThan(0); // one id per graphile-worker worker
    } catch (e) {
      proc.kill('SIGKILL');
      throw new Error(`${String(e)}\nstderr:\n${stderr}`);
    }
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await heartbeatIds()).toEqual([]);
  });

  it('refuses to start without DATABASE_URL, exit non-zero', async () => {
    const proc = spawn(nodeBin, [entry], {
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: '', LOG_LEVEL: 'fatal' },
      stdio: 'ignore',
    });
    const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
    expect(code).not.toBe(0);
  });
});
