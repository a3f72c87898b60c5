import { randomUUID } from 'node:crypto';
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { sql } from 'kysely';
import { seal, unseal } from '../crypto/sealed-box.ts';
import type { Deps } from '../deps.ts';
import { publishAuthEvent } from './auth-events.ts';
import { AUTH_CACHE_TTL_MS } from './auth-runtime.ts';

/** EdDSA over Ed25519: small keys, deterministic signatures, one algorithm to pin. */
export const JWT_ALG = 'EdDSA';
/** Access tokens live 15 minutes; a superseded key stays valid a little longer than that. */
export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
const RETIRE_AFTER_MS = (ACCESS_TOKEN_TTL_SECONDS + 5 * 60) * 1000;
const UNKNOWN_KID_RELOAD_MS = 1_000;

type LoadedKey = { kid: string; publicKey: CryptoKey; publicJwk: JWK };
type KeySet = {
  keys: Map<string, LoadedKey>;
  active: { kid: string; privateKey: CryptoKey } | undefined;
};

// The HKDF info of signing keys since the first release: changing it would orphan stored keys.
const SIGNING_KEYS = { info: 'signing-key-encryption/v1', what: 'signing key' };

async function newKeyRow(secret: string | undefined) {
  const kid = randomUUID();
  const { publicKey, privateKey } = await generateKeyPair(JWT_ALG, {
    crv: 'Ed25519',
    extractable: true,
  });
  const pub = await exportJWK(publicKey);
  const priv = await exportJWK(privateKey);
  return {
    kid,
    alg: JWT_ALG,
    public_jwk: JSON.stringify({ kty: pub.kty, crv: pub.crv, x: pub.x }),
    private_jwk_enc: seal(secret, SIGNING_KEYS, kid, JSON.stringify(priv)),
  };
}

const LOCK = sql`select pg_advisory_xact_lock(hashtext('tollgate_signing_keys'))`;

/** Creates the first signing key unless one is active; safe when many processes start at once. */
export async function ensureSigningKey(deps: Pick<Deps, 'db' | 'config'>): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    await LOCK.execute(trx);
    const active = await trx
      .selectFrom('signing_keys')
      .select('kid')
      .where('superseded_at', 'is', null)
      .executeTakeFirst();
    if (!active)
      await trx
        .insertInto('signing_keys')
        .values(await newKeyRow(deps.config.secret))
        .execute();
  });
}

/** Makes a new key the signing key; the old one keeps verifying until its tokens have expired. */
export async function rotateSigningKey(deps: Deps): Promise<{ kid: string }> {
  const row = await newKeyRow(deps.config.secret);
  await deps.db.transaction().execute(async (trx) => {
    await LOCK.execute(trx);
    await trx
      .updateTable('signing_keys')
      .set({ superseded_at: deps.clock.now() })
      .where('superseded_at', 'is', null)
      .execute();
    await trx.insertInto('signing_keys').values(row).execute();
    await publishAuthEvent(trx, { k: 'signing' });
  });
  deps.auth.invalidate({ k: 'signing' });
  return { kid: row.kid };
}

async function loadKeySet(deps: Deps): Promise<KeySet> {
  const cutoff = new Date(deps.clock.now().getTime() - RETIRE_AFTER_MS);
  const load = () =>
    deps.db
      .selectFrom('signing_keys')
      .selectAll()
      .where((eb) => eb.or([eb('superseded_at', 'is', null), eb('superseded_at', '>', cutoff)]))
      .orderBy('created_at', 'desc')
      .execute();
  let rows = await load();
  if (!rows.some((r) => r.superseded_at === null)) {
    await ensureSigningKey(deps);
    rows = await load();
  }
  const keys = new Map<string, LoadedKey>();
  let active: KeySet['active'];
  for (const r of rows) {
    const publicJwk = { ...(r.public_jwk as JWK), kid: r.kid, alg: r.alg, use: 'sig' };
    keys.set(r.kid, {
      kid: r.kid,
      publicJwk,
      publicKey: (await importJWK(publicJwk, r.alg)) as CryptoKey,
    });
    if (r.superseded_at === null && !active) {
      const priv = JSON.parse(
        unseal(deps.config.secret, SIGNING_KEYS, r.kid, r.private_jwk_enc),
      ) as JWK;
      active = { kid: r.kid, privateKey: (await importJWK(priv, r.alg)) as CryptoKey };
    }
  }
  return { keys, active };
}

/**
 * The published and accepted keys, cached per process. The cache is dropped by the rotation
 * notification; without a live listener it is re-read at most every AUTH_CACHE_TTL_MS, or sooner
 * when a token names a kid we do not know (rate-limited, so random kids cannot flood the database).
 */
async function keySet(deps: Deps, unknownKid?: string): Promise<KeySet> {
  const slot = deps.auth.signing;
  const age = Date.now() - slot.loadedAt;
  const cached = slot.value as KeySet | undefined;
  const live = deps.auth.live();
  const stale =
    !cached ||
    (!live && age > AUTH_CACHE_TTL_MS) ||
    (unknownKid !== undefined && !cached.keys.has(unknownKid) && age > UNKNOWN_KID_RELOAD_MS);
  if (!stale) return cached;
  const gen = deps.auth.generation();
  const loaded = await loadKeySet(deps);
  if (deps.auth.generation() === gen) {
    slot.value = loaded;
    slot.loadedAt = Date.now();
  }
  return loaded;
}

/** The key that signs new tokens. */
export async function activeSigningKey(
  deps: Deps,
): Promise<{ kid: string; privateKey: CryptoKey }> {
  const set = await keySet(deps);
  if (!set.active) throw new Error('no active signing key');
  return set.active;
}

/** The public key for a kid, or undefined: unknown kids are refused, never fetched from anywhere. */
export async function verificationKey(deps: Deps, kid: string): Promise<CryptoKey | undefined> {
  let set = await keySet(deps);
  if (!set.keys.has(kid)) set = await keySet(deps, kid);
  return set.keys.get(kid)?.publicKey;
}

/** `/.well-known/jwks.json`: the current key and superseded keys whose tokens may still be live. */
export async function publicJwks(deps: Deps): Promise<{ keys: JWK[] }> {
  const set = await keySet(deps);
  return { keys: [...set.keys.values()].map((k) => k.publicJwk) };
}
