import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Exited, watchOutput } from '@tollgate/test-kit';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const mainEntry = join(repoRoot, 'apps/server/src/main.js');
/** The repo's own Node 24 (the `node` devDependency), as `pnpm start` would use. */
export const nodeBin = existsSync(join(repoRoot, 'node_modules/.bin/node'))
  ? join(repoRoot, 'node_modules/.bin/node')
  : process.execPath;

export type Running = {
  proc: ChildProcess;
  pid: number;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first match of `re` in stdout; rejects if the process exits first. */
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  exited: Promise<Exited>;
};

/**
 * `node apps/server/src/main.js` as `pnpm start` runs it, with a clean environment: nothing from
 * the test runner's env leaks in except PATH/HOME, and `.env` cannot add a DATABASE_URL.
 */
export function startTollgate(
  env: Record<string, string>,
  args: string[] = [],
  nodeArgs: string[] = [],
): Running {
  const proc = spawn(nodeBin, [...nodeArgs, mainEntry, ...args], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      DATABASE_URL: '',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, like a terminal's foreground job: `process.kill(-pid, 'SIGINT')` is
    // then exactly what Ctrl-C sends (to the primary and every process it started).
    detached: true,
  });
  const output = watchOutput(proc, { settledOn: 'exit', timeoutMs: 45_000 });
  return {
    proc,
    pid: proc.pid ?? -1,
    stdout: output.stdout,
    stderr: output.stderr,
    waitFor: (re, timeoutMs) => output.waitFor(re, 'stdout', timeoutMs),
    exited: output.exited,
  };
}

/** Polls `url` until it answers `status` (readiness waits for the worker's first heartbeat). */
export async function waitForStatus(url: string, status: number, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      const body = await res.text();
      if (res.status === status) return body;
      last = `${res.status} ${body}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} never answered ${status}; last: ${last}`);
}

/** Direct children of a process (pgrep -P). */
export function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/** The command name of a process, or undefined if it is gone. */
export function commandName(pid: number): string | undefined {
  try {
    return execFileSync('ps', ['-o', 'comm=', '-p', String(pid)], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

/** Pids of processes whose command line mentions `text` (e.g. a postgres data dir). */
export function pidsMatching(text: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', text], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((p) => p !== process.pid);
  } catch {
    return [];
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until `pred` holds, polling; throws with `what` on timeout. */
export async function eventually(pred: () => boolean, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
