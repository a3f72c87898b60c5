import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Secrets stored at rest (signing keys, provider connection keys): AES-256-GCM under a key derived
 * from TOLLGATE_SECRET with HKDF, one derivation per `purpose` (a readable noun: `signing key`). `aad` (the owning row's id) is
 * authenticated, so a ciphertext cannot be moved to another row. Format `v1.<iv>.<tag>.<body>`.
 */
const derived = new Map<string, Buffer>();

function encryptionKey(secret: string | undefined, purpose: string): Buffer {
  if (!secret) throw new Error(`TOLLGATE_SECRET is required to store and use ${purpose}s`);
  const id = `${purpose}\0${secret}`;
  let key = derived.get(id);
  if (key === undefined) {
    const info = `${purpose.replaceAll(' ', '-')}-encryption/v1`;
    key = Buffer.from(hkdfSync('sha256', secret, 'tollgate', info, 32));
    derived.set(id, key);
  }
  return key;
}

/** Encrypts `plaintext` for storage. */
export function seal(secret: string | undefined, purpose: string, aad: string, plaintext: string) {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', encryptionKey(secret, purpose), iv);
  c.setAAD(Buffer.from(aad));
  const body = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return ['v1', iv, c.getAuthTag(), body]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

/** Decrypts what `seal` stored; the error names the row (`aad`), never the content. */
export function open(secret: string | undefined, purpose: string, aad: string, sealed: string) {
  const [v, iv, tag, body] = sealed.split('.');
  if (v !== 'v1' || !iv || !tag || !body) throw new Error(`${purpose} ${aad}: unknown format`);
  const d = createDecipheriv(
    'aes-256-gcm',
    encryptionKey(secret, purpose),
    Buffer.from(iv, 'base64url'),
  );
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(Buffer.from(tag, 'base64url'));
  try {
    return Buffer.concat([d.update(Buffer.from(body, 'base64url')), d.final()]).toString('utf8');
  } catch (cause) {
    throw new Error(`${purpose} ${aad} cannot be decrypted: was TOLLGATE_SECRET changed?`, {
      cause,
    });
  }
}
