import { hash, randomBytes } from 'node:crypto';

export const KEY_PREFIX = 'tg_';

/** `tg_` + 32 random bytes in base64url (43 characters). */
export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** SHA-256 of the whole key string: keys are high-entropy, so a slow hash adds nothing. */
export function hashApiKey(key: string): Buffer {
  // One-shot hash: no Hash object per request (this runs on every API-key call).
  return hash('sha256', key, 'buffer');
}

/** What lists show: enough to recognise a key, far too little to use it. */
export function keyPrefix(key: string): string {
  return key.slice(0, KEY_PREFIX.length + 6);
}

/** A well-formed key string; anything else is refused before touching the database. */
export function looksLikeApiKey(s: string): boolean {
  return /^tg_[A-Za-z0-9_-]{43}$/.test(s);
}
