import type { DB } from '@tollgate/db';
import type { Kysely } from 'kysely';

export async function insertResponse(
  db: Kysely<DB>,
  v: {
    id: string;
    userId: string;
    model: string;
    input: unknown[];
    output: unknown[];
    body: unknown;
  },
): Promise<void> {
  await db
    .insertInto('responses')
    .values({
      id: v.id,
      user_id: v.userId,
      model: v.model,
      input: JSON.stringify(v.input),
      output: JSON.stringify(v.output),
      body: JSON.stringify(v.body),
    })
    .execute();
}

/** A stored response of `userId`, unless it was created before `notBefore` (expired). */
export function findResponse(
  db: Kysely<DB>,
  userId: string,
  id: string,
  notBefore: Date | undefined,
) {
  let q = db.selectFrom('responses').selectAll().where('id', '=', id).where('user_id', '=', userId);
  if (notBefore) q = q.where('created_at', '>=', notBefore);
  return q.executeTakeFirst();
}

export async function deleteResponse(db: Kysely<DB>, userId: string, id: string): Promise<boolean> {
  const r = await db
    .deleteFrom('responses')
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return r.numDeletedRows > 0n;
}
