import type { DB } from '@tollgate/db';
import type { Kysely } from 'kysely';

export async function insertRefreshToken(
  db: Kysely<DB>,
  v: { userId: string; familyId: string; tokenHash: Buffer; expiresAt: Date },
) {
  await db
    .insertInto('refresh_tokens')
    .values({
      user_id: v.userId,
      family_id: v.familyId,
      token_hash: v.tokenHash,
      expires_at: v.expiresAt,
    })
    .execute();
}

/**
 * Marks a live token used, in one conditional UPDATE: of two concurrent refreshes with the same
 * token, Postgres lets exactly one see `used_at is null` (the other re-checks after the row lock).
 */
export async function consumeRefreshToken(db: Kysely<DB>, tokenHash: Buffer, now: Date) {
  return db
    .updateTable('refresh_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .returning(['user_id', 'family_id'])
    .executeTakeFirst();
}

export async function findRefreshToken(db: Kysely<DB>, tokenHash: Buffer) {
  return db
    .selectFrom('refresh_tokens')
    .select(['user_id', 'family_id', 'used_at', 'revoked_at', 'expires_at'])
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst();
}

export async function revokeFamily(db: Kysely<DB>, familyId: string, now: Date): Promise<void> {
  await db
    .updateTable('refresh_tokens')
    .set({ revoked_at: now })
    .where('family_id', '=', familyId)
    .where('revoked_at', 'is', null)
    .execute();
}

export async function revokeUserFamilies(db: Kysely<DB>, userId: string, now: Date): Promise<void> {
  await db
    .updateTable('refresh_tokens')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute();
}
