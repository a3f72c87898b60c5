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
  createDb,
  createPool,
  type EmbeddedPostgresHandle,
  migrate,
  startEmbeddedPostgres,
} from '@tollgate/db';
import { createLogger } from '@tollgate/telemetry';
import { createClusterMetricsHub } from './metrics-cluster.ts';
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
  const config = configOrExit();
  const log = createLogger(config);
  const withWorker = !argv.includes('--no-worker');

  let embedded: EmbeddedPostgresHandle | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const dataDir = join(config.home, 'pg');
    log.info({ dataDir }, 'starting embedded postgres');
    embedded = await startEmbeddedPostgres({
      dataDir,
      persistent: true,
      onLog: (line) => log.debug({ postgres: line }, 'postgres'),
    });
    databaseUrl = embedded.url('tollgate');
  }
  const secret = withSecret(config).secret as string;

  const pool = createPool(databaseUrl, {
    max: 2,
    applicationName: 'tollgate-primary',
    onError: (err) => log.warn({ err: err.message }, 'database connection error'),
  });
  await migrate(pool);
  const deps = { db: createDb(pool), config };
  const admin = await bootstrapFirstAdmin(deps);
  // The JWT signing key pair, private half encrypted with TOLLGATE_SECRET, made on first start.
  await ensureSigningKey({ db: deps.db, config: { ...config, secret } });
  // The mock models always; a configured provider's current models (existing rows kept).
  await seedModels(deps);
  if (admin) {
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

  // Server processes get the V8 flags of v8-flags.ts (why: there).
  cluster.setupPrimary({ execArgv: serverExecArgv(process.execArgv) });
  const startServer = () => {
    const w = cluster.fork(childEnv);
    const child = track(w);
    children.add(child);
    const forgetMetrics = metricsHub.add(w);
    w.on('exit', (code, signal) => {
      children.delete(child);
      forgetMetrics();
      if (stopping) return;
      log.error({ pid: w.process.pid, code, signal }, 'server process died; starting a new one');
      setTimeout(startServer, 500);
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
    proc.on('exit', (code, signal) => {
      children.delete(child);
      forgetMetrics();
      if (stopping) return;
      log.error({ pid: proc.pid, code, signal }, 'worker process died; starting a new one');
      setTimeout(startWorker, 1000);
    });
  };

  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    for (const c of children) c.kill('SIGTERM');
    const all = Promise.all([...children].map((c) => c.exited));
    const timeout = new Promise((r) => setTimeout(r, 15_000).unref());
    await Promise.race([all, timeout]);
    for (const c of children) c.kill('SIGKILL');
    if (embedded) await embedded.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

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
  process.stdout.write(`listening on http://${config.host}:${ports[0]}\n`);
}
