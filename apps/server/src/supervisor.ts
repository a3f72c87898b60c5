import { type ChildProcess, fork } from 'node:child_process';
import cluster, { type Worker } from 'node:cluster';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Config,
  ConfigError,
  childEnvironment,
  loadConfig,
  loadDotEnv,
  withSecret,
} from '@tollgate/config';
import { bootstrapFirstAdmin, ensureSigningKey, seedModels } from '@tollgate/core';
import {
  AlreadyRunningError,
  createDb,
  createPool,
  type EmbeddedPostgresHandle,
  migrate,
  startEmbeddedPostgres,
} from '@tollgate/db';
import { createLogger, type Logger } from '@tollgate/telemetry';
import { EXIT_FATAL, isFatalMessage } from './child-fatal.ts';
import { createClusterMetricsHub } from './metrics-cluster.ts';
import { createRestartPolicy } from './restart-policy.ts';
import { parseStartArgs, startHelp } from './start-options.ts';
import { serverExecArgv } from './v8-flags.ts';

/** nice(1) value of the worker process `pnpm start` forks (background work yields the CPU). */
const WORKER_NICENESS = 10;

const workerEntry = fileURLToPath(new URL('../../worker/src/main.ts', import.meta.url));

function configOrExit(): Config {
  loadDotEnv();
  try {
    return loadConfig();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write('tollgate: invalid configuration, nothing started\n');
    for (const line of e.problems) process.stderr.write(`  ${line}\n`);
    process.exit(1);
  }
}

/** `--help` prints and exits 0; an unknown flag exits 2 (before any configuration is read). */
function startCommandOrExit(argv: readonly string[]): { worker: boolean } {
  const command = parseStartArgs(argv);
  if (command.kind === 'help') {
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
 * Embedded Postgres in TOLLGATE_HOME/pg. Another Tollgate already running from the same folder is
 * left alone: this start says so and exits non-zero (its Postgres is not ours to stop).
 */
async function startEmbeddedOrExit(config: Config, log: Logger): Promise<EmbeddedPostgresHandle> {
  const dataDir = join(config.home, 'pg');
  log.info({ dataDir }, 'starting embedded postgres');
  try {
    return await startEmbeddedPostgres({
      dataDir,
      persistent: true,
      onLog: (line) => log.debug({ postgres: line }, 'postgres'),
      onNotice: (message) => log.info({ dataDir }, message),
    });
  } catch (e) {
    if (!(e instanceof AlreadyRunningError)) throw e;
    process.stderr.write(
      `tollgate: Tollgate is already running from this TOLLGATE_HOME (pid ${e.ownerPid}, ${e.url ?? 'still starting'}); stop it or set TOLLGATE_HOME (now ${config.home})\n`,
    );
    process.exit(1);
  }
}

type Child = { kill: (signal: NodeJS.Signals) => void; exited: Promise<void> };

function track(proc: ChildProcess | Worker): Child {
  const p = 'process' in proc ? proc.process : proc;
  const exited = new Promise<void>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) resolve();
    else p.once('exit', () => resolve());
  });
  return { kill: (s) => p.kill(s), exited };
}

/**
 * The primary process of `pnpm start`: config, Postgres (embedded unless DATABASE_URL), migrations,
 * first-start bootstrap, then WEB_CONCURRENCY server processes (node:cluster, one port) and the
 * worker; replaces a crashed child; stops everything, Postgres last, on SIGINT/SIGTERM.
 */
export async function runPrimary(argv: readonly string[]): Promise<void> {
  const { worker: withWorker } = startCommandOrExit(argv);
  const config = configOrExit();
  const log = createLogger(config);

  let embedded: EmbeddedPostgresHandle | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedOrExit(config, log);
    databaseUrl = embedded.url('tollgate');
  }
  const secret = withSecret(config, {
    onGenerated: (file) =>
      log.info({ file }, 'generated TOLLGATE_SECRET (first start); back this file up'),
  }).secret as string;

  const pool = createPool(databaseUrl, {
    max: 2,
    applicationName: 'tollgate-primary',
    onError: (err) => log.warn({ err: err.message }, 'database connection error'),
  });
  const applied = await migrate(pool);
  if (applied.length > 0) log.info({ migrations: applied }, `applied ${applied.length} migrations`);
  const deps = { db: createDb(pool), config };
  const admin = await bootstrapFirstAdmin(deps);
  // The JWT signing key pair, private half encrypted with TOLLGATE_SECRET, made on first start.
  await ensureSigningKey({ db: deps.db, config: { ...config, secret } });
  // The mock models always; a configured provider's current models (existing rows kept).
  const seeded = await seedModels(deps);
  if (seeded > 0) log.info({ added: seeded }, 'seeded the model catalog');
  if (admin) {
    log.info({ email: admin.email }, 'first start: created the admin user');
    // Shown once: the password and key are stored only as hashes.
    process.stdout.write(
      `${[
        '',
        'Tollgate first start: an admin user was created. Save these now; they are not shown again.',
        `admin email: ${admin.email}`,
        `admin password: ${admin.password}`,
        `admin api key: ${admin.apiKey}`,
        '',
      ].join('\n')}\n`,
    );
  }
  await pool.end();

  const childEnv = childEnvironment({ DATABASE_URL: databaseUrl, TOLLGATE_SECRET: secret });
  let stopping = false;
  const children = new Set<Child>();
  // A server process's GET /metrics is answered with every child's metrics, merged here.
  const metricsHub = createClusterMetricsHub();

  const stop = async (reason: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'stopping');
    for (const c of children) c.kill('SIGTERM');
    const all = Promise.all([...children].map((c) => c.exited));
    const timeout = new Promise((r) => setTimeout(r, 15_000).unref());
    await Promise.race([all, timeout]);
    for (const c of children) c.kill('SIGKILL');
    if (embedded) await embedded.stop();
    process.exit(exitCode);
  };
  /** Something no restart fixes: one line on stderr, everything stopped, a non-zero exit. */
  const fail = (message: string) => {
    if (stopping) return;
    process.stderr.write(`tollgate: ${message}\n`);
    void stop('failure', 1);
  };
  process.on('SIGINT', () => void stop('SIGINT', 0));
  process.on('SIGTERM', () => void stop('SIGTERM', 0));

  const superviseChild = superviseWith({ log, fail, isStopping: () => stopping });

  // Server processes get the V8 flags of v8-flags.ts (why: there).
  cluster.setupPrimary({ execArgv: serverExecArgv(process.execArgv) });
  const startServer = () => {
    const w = cluster.fork(childEnv);
    const child = track(w);
    children.add(child);
    const forgetMetrics = metricsHub.add(w);
    superviseChild('server', w, startServer, () => {
      children.delete(child);
      forgetMetrics();
    });
    return w;
  };
  const startWorker = () => {
    // The server processes' young-generation cap too (a batch allocates per item like a request),
    // and a lower CPU priority: on a small machine a running batch must not slow interactive calls.
    const proc = fork(workerEntry, [], {
      env: childEnv,
      execArgv: serverExecArgv(process.execArgv),
    });
    if (proc.pid !== undefined) {
      try {
        setPriority(proc.pid, WORKER_NICENESS);
      } catch {
        // not permitted here: the worker runs at normal priority
      }
    }
    const child = track(proc);
    children.add(child);
    const forgetMetrics = metricsHub.add(proc);
    superviseChild('worker', proc, startWorker, () => {
      children.delete(child);
      forgetMetrics();
    });
  };

  if (withWorker) startWorker();
  const servers = Array.from({ length: config.webConcurrency }, startServer);
  const ports = await Promise.all(
    servers.map(
      (w) =>
        new Promise<number>((resolve) =>
          w.on('message', (m: { type?: string; port?: number }) => {
            if (m?.type === 'listening' && typeof m.port === 'number') resolve(m.port);
          }),
        ),
    ),
  );
  const url = `http://${config.host}:${ports[0]}`;
  embedded?.announce(url);
  process.stdout.write(`listening on ${url}\n`);
}

/**
 * Restarts for children that die unasked, one restart policy per kind (restart-policy.ts): a
 * child that keeps dying right after start is retried with backoff and then given up on; a child
 * that reports a fatal start-up problem (child-fatal.ts: its port is taken) is not restarted.
 */
function superviseWith(ctx: {
  log: Logger;
  fail: (message: string) => void;
  isStopping: () => boolean;
}) {
  const policies = { server: createRestartPolicy(), worker: createRestartPolicy() };
  return (
    kind: 'server' | 'worker',
    proc: ChildProcess | Worker,
    restart: () => void,
    forget: () => void,
  ) => {
    const startedAt = Date.now();
    const pid = 'process' in proc ? proc.process.pid : proc.pid;
    proc.on('message', (m: unknown) => {
      if (isFatalMessage(m)) ctx.fail(m.message);
    });
    proc.on('exit', (code: number | null, signal: NodeJS.Signals | null) => {
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
    });
  };
}
