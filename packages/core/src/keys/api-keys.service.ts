import type { DB } from '@tollgate/db';
import type { Kysely } from 'kysely';
import { defaultScopes, type KeyScope } from '../auth/principal.ts';
import { insertApiKey } from './api-keys.repository.ts';
import { generateApiKey, hashApiKey, keyPrefix } from './key-material.ts';

export type NewKeyOptions = {
  name: string;
  scopes?: readonly KeyScope[];
  expiresAt?: Date | null;
  rpmLimit?: number | null;
  tpmLimit?: number | null;
  logBodies?: boolean | null;
  cache?: boolean;
};

/** Creates a key for a user; the plaintext is returned here once and never stored. */
export async function issueApiKey(db: Kysely<DB>, userId: string, opts: NewKeyOptions) {
  const key = generateApiKey();
  const row = await insertApiKey(db, {
    ...opts,
    userId,
    scopes: opts.scopes ?? defaultScopes,
    prefix: keyPrefix(key),
    keyHash: hashApiKey(key),
  });
  return { key, row };
}
