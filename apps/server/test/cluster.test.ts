import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDb, type TestDb } from '@tollgate/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, isAlive, type Running, startTollgate } from './spawn.ts';

let testDb: TestDb;
let home: string;
let tollgate: Running;
let url: string;

/** GET /healthz on a fresh connection each time, so node:cluster can hand it to any process. */
function healthPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(`${url}/healthz`, { agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => {
        try {
          resolve((JSON.parse(body) as { pid: number }).pid);
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('error', reject);
  });
}

/** Collects server pids until `want` distinct ones answered (or gives up after `tries`). */
async function serverPids(want: number, tries = 200): Promise<Set<number>> {
  const seen = new Set<number>();
  for (let i = 0; i < tries && seen.size < want; i++) {
    try {
      seen.add(await healthPid());
    } catch {
      await new Promise((r) => setTimeout(r, 50)); // a process is being replaced
    }
  }
  return seen;
}

beforeAll(async () => {
  testDb = await createTestDb();
  home = mkdtempSync(join(tmpdir(), 'tollgate-cluster-'));
  tollgate = startTollgate(
    { DATABASE_URL: testDb.url, WEB_CONCURRENCY: '2', PORT: '0', TOLLGATE_HOME: home },
    ['--no-worker'],
  );
  const m = await tollgate.waitFor(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/m);
  url = m[1] as string;
});

afterAll(async () => {
  if (tollgate && tollgate.proc.exitCode === null) {
    tollgate.proc.kill('SIGKILL');
    await tollgate.exited;
  }
  await testDb?.drop();
  if (home) rmSync(home, { recursive: true, force: true });
}, 30_000);

describe('cluster mode with DATABASE_URL', { timeout: 90_000 }, () => {
  it('uses the given database: no embedded postgres, a generated first-admin banner', () => {
    expect(existsSync(join(home, 'pg'))).toBe(false);
    const out = tollgate.stdout();
    expect(out).toMatch(/^admin email: \S+@\S+$/m);
    expect(out).toMatch(/^admin password: \S{12,}$/m);
    expect(out).toMatch(/^admin api key: tg_\S+$/m);
  });

  it('answers from two distinct server processes on one port', async () => {
    const pids = await serverPids(2);
    expect(pids.size).toBe(2);
    expect(pids.has(tollgate.pid)).toBe(false);
  });

  it('replaces a server process killed with -9', async () => {
    const before = await serverPids(2);
    const [victim, survivor] = [...before] as [number, number];
    process.kill(victim, 'SIGKILL');
    await eventually(() => !isAlive(victim), 'victim gone');

    // The primary forks a replacement shortly after; poll until two live pids answer again.
    let after = new Set<number>();
    for (let i = 0; i < 100; i++) {
      after = await serverPids(2);
      if (after.size === 2 && !after.has(victim)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(after.has(victim)).toBe(false);
    expect(after.has(survivor)).toBe(true);
    expect(after.size).toBe(2);
  });

  it('stops every process on SIGTERM with exit code 0', async () => {
    const pids = await serverPids(2);
    tollgate.proc.kill('SIGTERM');
    expect((await tollgate.exited).code).toBe(0);
    await eventually(() => [...pids].every((p) => !isAlive(p)), 'server processes gone');
  });
});
