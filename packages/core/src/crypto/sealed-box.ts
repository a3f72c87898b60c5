import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Secrets stored in the database (signing keys, webhook secrets), sealed with AES-256-GCM under
 * a key derived (HKDF-SHA256) from TOLLGATE_SECRET for one `purpose`. `aad` (the row's id) is
 * authenticated, so a sealed value cannot be moved to another row. Format: `v1.<iv>.<tag>.<body>`.
 */
export type SealPurpose = { info: string; what: string };

function key(secret: string | undefined, p: SealPurpose): Buffer {
  if (!secret) throw new Error(`TOLLGATE_SECRET is required to store and use ${p.what}`);
  return Buffer.from(hkdfSync('sha256', secret, 'tollgate', p.info, 32));
}

export function seal(
  secret: string | undefined,
  p: SealPurpose,
  aad: string,
  plaintext: string,
): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key(secret, p), iv);
  c.setAAD(Buffer.from(aad));
  const body = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return ['v1', iv, c.getAuthTag(), body]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

export function unseal(
  secret: string | undefined,
  p: SealPurpose,
  aad: string,
  sealed: string,
): string {
  const [v, iv, tag, body] = sealed.split('.');
  if (v !== 'v1' || !iv || !tag || !body) throw new Error(`${p.what} ${aad}: unknown format`);
  const d = createDecipheriv('aes-256-gcm', key(secret, p), Buffer.from(iv, 'base64url'));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(Buffer.from(tag, 'base64url'));
  try {
    return Buffer.concat([d.update(Buffer.from(body, 'base64url')), d.final()]).toString('utf8');
  } catch (cause) {
    throw new Error(`${p.what} ${aad} cannot be decrypted: was TOLLGATE_SECRET changed?`, {
      cause,
    });
  }
}
