import type { DB } from '@tollgate/db';
import { type Kysely, sql } from 'kysely';

export async function insertUser(
  db: Kysely<DB>,
  values: { email: string; passwordHash: string; role: 'admin' | 'member' },
) {
  return db
    .insertInto('users')
    .values({ email: values.email, password_hash: values.passwordHash, role: values.role })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findUserById(db: Kysely<DB>, id: string) {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findUserByEmail(db: Kysely<DB>, email: string) {
  return db
    .selectFrom('users')
    .selectAll()
    .where(sql`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
}

export async function countUsers(db: Kysely<DB>): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select(sql<number>`count(*)::int`.as('n'))
    .executeTakeFirstOrThrow();
  return row.n;
}
