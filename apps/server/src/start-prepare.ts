import { join } from 'node:path';
import { type Config, childEnvironment, withSecret } from '@tollgate/config';
import {
  AlreadyRunningError,
  type PostgresCommand,
  type PostgresProcess,
  startEmbeddedPostgres,
} from '@tollgate/db';
import { createLogger, type Logger } from '@tollgate/telemetry';
import { configOrExit } from './config-or-exit.ts';
import { firstAdminBanner, prepareDatabase } from './prepare.ts';
import type { PreparedMessage, SpawnPostgresReply, SpawnPostgresRequest } from './supervisor.js';

/*
 * The preparing child of `pnpm start` (supervisor.js forks it and it exits when done): what
 * needs configuration, Postgres drivers and migrations runs here, so the long-lived supervisor
 * loads none of it. Configuration, the generated secret, embedded Postgres' data folder (postgres
 * itself runs as the supervisor's child, asked for over IPC), migrations and first-start
 * bootstrap (prepare.ts, shared with the Kubernetes Job); then the children's environment and
 * the supervisor's few settings go back over IPC.
 */

function send(message: SpawnPostgresRequest | PreparedMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('start-prepare.ts runs under the supervisor'));
    process.send(message, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

/** Postgres run by the supervisor (its parent), so that postgres' parent is the recorded owner. */
function spawnInSupervisor(config: Config, dataDir: string) {
  return (command: PostgresCommand): Promise<PostgresProcess> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: SpawnPostgresReply) => {
        if (m?.type !== 'postgres:spawned' && m?.type !== 'postgres:failed') return;
        process.off('message', onMessage);
        if (m.type === 'postgres:failed') reject(new Error(m.error));
        // Stopping it is the supervisor's job (last, after every child), not ours.
        else resolve({ pid: m.pid, stop: async () => {} });
      };
      process.on('message', onMessage);
      send({
        type: 'postgres:spawn',
        command,
        dataDir,
        log: { level: config.logLevel, format: config.logFormat },
      }).catch(reject);
    });
}

/**
 * Embedded Postgres in TOLLGATE_HOME/pg. Another Tollgate already running from the same folder is
 * left alone: this start says so and exits non-zero (its Postgres is not ours to stop).
 */
async function startEmbeddedOrExit(config: Config, log: Logger): Promise<string> {
  const dataDir = join(config.home, 'pg');
  log.info({ dataDir }, 'starting embedded postgres');
  try {
    const embedded = await startEmbeddedPostgres({
      dataDir,
      persistent: true,
      onLog: (line) => log.debug({ postgres: line }, 'postgres'),
      onNotice: (message) => log.info({ dataDir }, message),
      spawn: spawnInSupervisor(config, dataDir),
      ownerPid: process.ppid,
    });
    return embedded.url('tollgate');
  } catch (e) {
    if (!(e instanceof AlreadyRunningError)) throw e;
    process.stderr.write(
      `tollgate: Tollgate is already running from this TOLLGATE_HOME (pid ${e.ownerPid}, ${e.url ?? 'still starting'}); stop it or set TOLLGATE_HOME (now ${config.home})\n`,
    );
    process.exit(1);
  }
}

const config = configOrExit('nothing started');
const log = createLogger(config);
const databaseUrl = config.databaseUrl ?? (await startEmbeddedOrExit(config, log));
const secret = withSecret(config, {
  onGenerated: (file) =>
    log.info({ file }, 'generated TOLLGATE_SECRET (first start); back this file up'),
}).secret as string;
// Migrations (advisory lock), first admin, signing key, model seed: prepare.ts, shared with
// the Kubernetes migration Job.
const admin = await prepareDatabase({ config, databaseUrl, secret, log });
if (admin) process.stdout.write(firstAdminBanner(admin));

const env: Record<string, string> = {};
for (const [name, value] of Object.entries(
  childEnvironment({ DATABASE_URL: databaseUrl, TOLLGATE_SECRET: secret }),
)) {
  // Node's own IPC bookkeeping for this process is not the children's.
  if (value !== undefined && !name.startsWith('NODE_CHANNEL_')) env[name] = value;
}
await send({
  type: 'prepared',
  env,
  webConcurrency: config.webConcurrency,
  host: config.host,
  shutdownGraceMs: config.shutdownGraceMs,
  log: { level: config.logLevel, format: config.logFormat },
});
process.exit(0);
