import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config.ts';

function readSecret(file: string): string | undefined {
  try {
    const s = readFileSync(file, 'utf8').trim();
    return s.length >= 32 ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * TOLLGATE_SECRET when none is configured: generated once under TOLLGATE_HOME (mode 0600) so that
 * stored secrets stay decryptable across restarts, and shared by every process that sees the same
 * folder (compose mounts one volume into server and worker). Creation is atomic (write a temp file,
 * then hard-link it into place), so two processes starting at once agree on one secret.
 */
export function loadOrCreateStoredSecret(
  home: string,
  onGenerated?: (file: string) => void,
): string {
  const file = join(home, 'secret');
  const existing = readSecret(file);
  if (existing) return existing;
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  try {
    linkSync(tmp, file);
    onGenerated?.(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
  const secret = readSecret(file);
  if (!secret) throw new Error(`${file} does not hold a secret of 32+ characters`);
  return secret;
}

/**
 * The config with its secret resolved: TOLLGATE_SECRET, else the one stored under TOLLGATE_HOME.
 * `onGenerated` hears about the one time a secret is made (the operator should back the file up).
 */
export function withSecret(
  config: Config,
  opts: { onGenerated?: (file: string) => void } = {},
): Config {
  if (config.secret) return config;
  return Object.freeze({
    ...config,
    secret: loadOrCreateStoredSecret(config.home, opts.onGenerated),
  });
}
