import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import envPaths from 'env-paths';
import { CliError } from './errors.ts';

/** What `tollgate login` leaves behind: a session (tokens) or an API key, for one server. */
export type StoredLogin =
  | {
      url: string;
      email: string;
      accessToken: string;
      refreshToken: string;
      /** ISO time the access token stops working. */
      accessTokenExpiresAt: string;
    }
  | { url: string; apiKey: string };

/** $XDG_CONFIG_HOME/tollgate (~/.config/tollgate on Linux; the platform's place elsewhere). */
export function configDir(): string {
  return envPaths('tollgate', { suffix: '' }).config;
}

export function configFile(): string {
  return join(configDir(), 'config.json');
}

export function readLogin(): StoredLogin | undefined {
  let text: string;
  try {
    text = readFileSync(configFile(), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const parsed = JSON.parse(text) as StoredLogin;
    if (typeof parsed.url !== 'string') throw new Error('no url');
    return parsed;
  } catch {
    throw new CliError(
      'bad_config',
      `${configFile()} is not a tollgate login; run \`tollgate login\` again`,
    );
  }
}

/**
 * Writes the login readable by its owner only (0600, in a 0700 directory): it holds a refresh
 * token or an API key. A temp file renamed over the old one, so a crash never leaves half a file
 * and the secret is never briefly world-readable.
 */
export function writeLogin(login: StoredLogin): void {
  const dir = configDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.config.json.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600); // in case the umask or an old file interfered
  renameSync(tmp, configFile());
}

export function removeLogin(): boolean {
  try {
    rmSync(configFile());
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}
