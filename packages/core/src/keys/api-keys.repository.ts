import type { DB } from '@tollgate/db';
import type { Kysely } from 'kysely';

export async function insertApiKey(
  db: Kysely<DB>,
  values: {
    userId: string;
    name: string;
    prefix: string;
    keyHash: Buffer;
    scopes: readonly string[];
    expiresAt?: Date | null;
    rpmLimit?: number | null;
    tpmLimit?: number | null;
    logBodies?: boolean | null;
    cache?: boolean;
    teamId?: string | null;
    allowedModels?: readonly string[];
  },
) {
  return db
    .insertInto('api_keys')
    .values({
      user_id: values.userId,
      name: values.name,
      prefix: values.prefix,
      key_hash: values.keyHash,
      scopes: [...values.scopes],
      expires_at: values.expiresAt ?? null,
      rpm_limit: values.rpmLimit ?? null,
      tpm_limit: values.tpmLimit ?? null,
      log_bodies: values.logBodies ?? null,
      cache: values.cache ?? false,
      team_id: values.teamId ?? null,
      allowed_models: [...(values.allowedModels ?? [])],
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The key with its owner's role and state: what authentication needs, in one round trip. */
export async function findKeyWithOwnerByHash(db: Kysely<DB>, keyHash: Buffer) {
  return (
    db
      .selectFrom('api_keys as k')
      .innerJoin('users as u', 'u.id', 'k.user_id')
      // The team's limits travel with the key: a team change drops its keys from every cache.
      .leftJoin('teams as t', 't.id', 'k.team_id')
      .select([
        'k.id',
        'k.user_id',
        'k.scopes',
        'k.expires_at',
        'k.revoked_at',
        'k.rpm_limit',
        'k.tpm_limit',
        'k.log_bodies',
        'k.cache',
        'k.team_id',
        'k.allowed_models',
        't.rpm_limit as team_rpm_limit',
        't.tpm_limit as team_tpm_limit',
        'u.role',
        'u.disabled',
      ])
      .where('k.key_hash', '=', keyHash)
      .executeTakeFirst()
  );
}
