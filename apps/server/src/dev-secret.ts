import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * TOLLGATE_SECRET when none is configured: generated once under TOLLGATE_HOME (mode 0600) so that
 * stored secrets stay decryptable across restarts of a dev install.
 */
export function loadOrCreateDevSecret(home: string): string {
  const file = join(home, 'secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}
