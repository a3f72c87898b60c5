import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  childPids,
  commandName,
  eventually,
  isAlive,
  pidsMatching,
  type Running,
  startTollgate,
  waitForStatus,
} from './spawn.ts';

// One TOLLGATE_HOME for the whole file: the steps below are one install's life, in order.
let home: string;
let dataDir: string;
const running = new Set<Running>();
let adminKey: string;

const adminEmail = 'first-admin@example.test';
const adminPassword = 'correct horse battery staple';

function start(env: Record<string, string> = {}, args: string[] = []): Running {
  const r = startTollgate({ TOLLGATE_HOME: home, PORT: '0', ...env }, args);
  running.add(r);
  void r.exited.then(() => running.delete(r));
  return r;
}

async function listening(r: Running): Promise<string> {
  const m = await r.waitFor(/^listening on (http:\/\/127\.0\.0\.1:(\d+))$/m);
  return m[1] as string;
}

function postgresPids(): number[] {
  return pidsMatching(dataDir).filter((p) => commandName(p)?.includes('postgres'));
}

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'tollgate-life-'));
  dataDir = join(home, 'pg');
});

afterAll(async () => {
  // Whatever a failed step left behind: Tollgate processes first, then an orphaned postgres.
  for (const r of running) r.proc.kill('SIGKILL');
  for (const pid of postgresPids()) process.kill(pid, 'SIGINT');
  await eventually(() => postgresPids().length === 0, 'postgres stopped').catch(() => {
    for (const pid of postgresPids()) process.kill(pid, 'SIGKILL');
  });
  rmSync(home, { recursive: true, force: true });
}, 30_000);

// Real processes, initdb and Postgres restarts: slow on a loaded machine, hence the long timeout.
describe('pnpm start lifecycle (embedded Postgres)', { timeout: 120_000 }, () => {
  it('refuses a bad PORT before starting anything, naming PORT', async () => {
    const r = start({ PORT: 'abc' });
    const { code } = await r.exited;
    expect(code).not.toBe(0);
    expect(r.stderr()).toMatch(/^\s*PORT: .*"abc"/m);
    expect(r.stdout()).not.toContain('listening on');
    expect(existsSync(dataDir)).toBe(false);
  });

  it('--help prints the flags and the config variables; an unknown flag exits 2; neither starts anything', async () => {
    const help = start({}, ['--help']);
    expect((await help.exited).code).toBe(0);
    expect(help.stdout()).toMatch(/^Usage: pnpm start/m);
    expect(help.stdout()).toMatch(/^\s+--no-worker\s+\S/m);
    for (const name of ['DATABASE_URL', 'TOLLGATE_HOME', 'PORT', 'WEB_CONCURRENCY', 'LOG_LEVEL'])
      expect(help.stdout()).toMatch(new RegExp(`^\\s+${name}\\s`, 'm'));
    const bad = start({}, ['--no-wroker']);
    expect((await bad.exited).code).toBe(2);
    expect(bad.stderr()).toContain("'--no-wroker'");
    expect(bad.stderr()).toContain('pnpm start --help');
    expect(bad.stdout()).not.toContain('listening on');
    expect(existsSync(dataDir)).toBe(false);
  });

  it('first start: prints the banner with the configured admin, serves, then stops cleanly on SIGINT', async () => {
    const r = start({
      TOLLGATE_ADMIN_EMAIL: adminEmail,
      TOLLGATE_ADMIN_PASSWORD: adminPassword,
      LOG_LEVEL: 'info',
    });
    const url = await listening(r);
    const out = r.stdout();
    // One-time events are said at info level (level 30), never secrets.
    const logLines = out.split('\n').filter((l) => l.startsWith('{'));
    const infoLines = logLines
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.level === 30)
      .map((l) => l.msg);
    for (const event of [
      /^initialising a new Postgres data folder/,
      /^applied \d+ migrations$/,
      /^generated TOLLGATE_SECRET \(first start\)/,
      /^first start: created the admin user$/,
      /^seeded the model catalog$/,
    ]) {
      expect(
        infoLines.some((m) => event.test(m)),
        String(event),
      ).toBe(true);
    }
    expect(logLines.filter((l) => l.includes(adminPassword))).toEqual([]);
    expect(out).toMatch(new RegExp(`^admin email: ${adminEmail}$`, 'm'));
    expect(out).toMatch(new RegExp(`^admin password: ${adminPassword}$`, 'm'));
    const key = out.match(/^admin api key: (tg_\S+)$/m)?.[1];
    expect(key).toBeDefined();
    adminKey = key as string;
    // The banner comes before the listening line.
    expect(out.indexOf('admin email: ')).toBeLessThan(out.indexOf('listening on'));

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(JSON.parse(await waitForStatus(`${url}/readyz`, 200))).toMatchObject({ ready: true });
    const info = await fetch(`${url}/api/system/info`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ name: 'tollgate', database: 'ok' });
    const pgBefore = postgresPids();
    expect(pgBefore.length).toBeGreaterThan(0);

    // A second start from the same TOLLGATE_HOME (another port) leaves the running one alone.
    const second = start();
    expect((await second.exited).code).toBe(1);
    expect(second.stderr()).toMatch(
      new RegExp(
        `^tollgate: Tollgate is already running from this TOLLGATE_HOME \\(pid ${r.pid}, ${url.replaceAll('.', '\\.')}\\); stop it or set TOLLGATE_HOME`,
        'm',
      ),
    );
    expect(second.stdout()).not.toContain('listening on');
    expect(postgresPids()).toEqual(pgBefore);
    const after = await fetch(`${url}/api/system/info`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(after.status).toBe(200);
    await waitForStatus(`${url}/readyz`, 200);

    // Ctrl-C: SIGINT to the whole process group. Postgres runs in a group of its own, so it
    // outlives the server and worker's shutdown instead of cutting their connections.
    process.kill(-(r.proc.pid as number), 'SIGINT');
    const { code } = await r.exited;
    expect(code).toBe(0);
    expect(`${r.stdout()}${r.stderr()}`).not.toMatch(
      /database connection error|terminating connection/,
    );
    expect(postgresPids()).toEqual([]);
    expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
  });

  it('second start reuses the data (no banner); after kill -9 of everything but postgres, a third start works', async () => {
    const second = start();
    const url = await listening(second);
    expect(second.stdout()).not.toContain('admin email:');
    expect(second.stdout()).not.toContain('admin api key:');
    await waitForStatus(`${url}/readyz`, 200);

    // kill -9 the primary and its Node children; postgres is left running as an orphan.
    const orphanCandidates = postgresPids();
    expect(orphanCandidates.length).toBeGreaterThan(0);
    const nodeChildren = childPids(second.pid).filter((p) => !commandName(p)?.includes('postgres'));
    expect(nodeChildren.length).toBeGreaterThanOrEqual(2); // one server process + the worker
    for (const pid of [second.pid, ...nodeChildren]) process.kill(pid, 'SIGKILL');
    await second.exited;
    await eventually(() => nodeChildren.every((p) => !isAlive(p)), 'node children gone');
    expect(postgresPids().length).toBeGreaterThan(0);
    expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(true);

    const third = start({ LOG_LEVEL: 'info' });
    const url3 = await listening(third);
    // The orphan is reclaimed, and the operator is told (info, not debug).
    expect(third.stdout()).toMatch(/"level":30,.*"msg":"stopping an orphaned postgres \(pid \d+\)/);
    expect(third.stdout()).not.toContain('admin email:');
    expect((await fetch(`${url3}/healthz`)).status).toBe(200);
    await waitForStatus(`${url3}/readyz`, 200);
    // The API key printed on first start still works: the data survived all of it.
    const info = await fetch(`${url3}/api/system/info`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    expect(info.status).toBe(200);

    third.proc.kill('SIGTERM');
    expect((await third.exited).code).toBe(0);
    expect(postgresPids()).toEqual([]);
  });

  it('a busy port: one clear line, a non-zero exit, no restart loop, Postgres stopped', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const addr = blocker.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    try {
      const r = start({ PORT: String(port) });
      const { code } = await r.exited;
      expect(code).toBe(1);
      expect(r.stderr()).toMatch(
        new RegExp(`^tollgate: port ${port} on 127\\.0\\.0\\.1 is in use; set PORT$`, 'm'),
      );
      expect(`${r.stdout()}${r.stderr()}`).not.toMatch(/EADDRINUSE|at .*\.ts:\d+/);
      expect(r.stderr()).not.toContain('starting a new one');
      expect(postgresPids()).toEqual([]);
      expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
    } finally {
      blocker.close();
    }
  });
});
