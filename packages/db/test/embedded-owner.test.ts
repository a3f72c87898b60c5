import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AlreadyRunningError,
  type EmbeddedPostgresHandle,
  startEmbeddedPostgres,
} from '../src/embedded.ts';

// Who may stop a Postgres found running in a data folder (lifecycle.test.ts covers the
// processes end to end: a second `pnpm start`, and an orphan after kill -9).
let home: string;
let dataDir: string;
let first: EmbeddedPostgresHandle | undefined;
let bystander: ChildProcess | undefined;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'tollgate-owner-'));
  dataDir = join(home, 'pg');
});
afterAll(async () => {
  bystander?.kill('SIGKILL');
  await first?.stop();
  rmSync(home, { recursive: true, force: true });
}, 30_000);

describe('embedded Postgres ownership', { timeout: 60_000 }, () => {
  it('refuses to start over a Postgres whose owner is alive, naming the owner and its URL', async () => {
    first = await startEmbeddedPostgres({ dataDir, persistent: true });
    first.announce('http://127.0.0.1:4567');
    const err = await startEmbeddedPostgres({ dataDir, persistent: true }).catch((e) => e);
    expect(err).toBeInstanceOf(AlreadyRunningError);
    expect(err).toMatchObject({ ownerPid: process.pid, url: 'http://127.0.0.1:4567' });
    // Untouched: the first one still answers.
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: first.url() });
    await client.connect();
    expect((await client.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
    await client.end();
    await first.stop();
    first = undefined;
  });

  it('never signals a live process that is not postgres named by a stale postmaster.pid', async () => {
    // After a container restart pids start over: the stale file may name an unrelated process.
    bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    writeFileSync(join(dataDir, 'postmaster.pid'), `${bystander.pid}\n${dataDir}\n`);
    const notices: string[] = [];
    first = await startEmbeddedPostgres({
      dataDir,
      persistent: true,
      onNotice: (m) => notices.push(m),
    });
    expect(bystander.exitCode).toBeNull();
    expect(bystander.signalCode).toBeNull();
    expect(notices.filter((n) => n.includes('orphaned'))).toEqual([]);
  });
});
