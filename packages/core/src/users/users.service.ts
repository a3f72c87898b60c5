import { sql } from 'kysely';
import { type AuditStamp, recordAudit } from '../audit/audit.service.ts';
import { publishAuthEvent } from '../auth/auth-events.ts';
import { generatePassword, hashPassword } from '../auth/passwords.ts';
import type { UserPrincipal } from '../auth/principal.ts';
import { revokeUserFamilies } from '../auth/refresh-tokens.repository.ts';
import type { Deps } from '../deps.ts';
import { DomainError, isUniqueViolation } from '../errors.ts';
import { olderThanCursor, type Page, type PageInput, pageParams, toPage } from '../pagination.ts';
import { insertUser } from './users.repository.ts';

export type UserView = {
  id: string;
  email: string;
  role: 'admin' | 'member';
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
};

type UserRow = {
  id: string;
  email: string;
  role: 'admin' | 'member';
  disabled: boolean;
  created_at: Date;
  updated_at: Date;
};

const view = (u: UserRow): UserView => ({
  id: u.id,
  email: u.email,
  role: u.role,
  disabled: u.disabled,
  createdAt: u.created_at.toISOString(),
  updatedAt: u.updated_at.toISOString(),
});

const columns = ['id', 'email', 'role', 'disabled', 'created_at', 'updated_at'] as const;

/** Every user, newest first (admin). */
export async function listUsers(deps: Deps, input: PageInput): Promise<Page<UserView>> {
  const { limit, cursor } = pageParams(input);
  let q = deps.db.selectFrom('users').select(columns);
  if (cursor) q = q.where(olderThanCursor('users', cursor));
  const rows = await q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  return toPage(rows, limit, view);
}

/** Creates a user; a generated password is returned once when none is given. */
export async function createUser(
  deps: Deps,
  input: { email: string; password?: string | undefined; role: 'admin' | 'member' },
  audit?: AuditStamp,
): Promise<UserView & { password?: string }> {
  const generated = input.password === undefined ? generatePassword() : undefined;
  const passwordHash = await hashPassword(input.password ?? (generated as string));
  try {
    const created = await deps.db.transaction().execute(async (trx) => {
      const row = view(
        await insertUser(trx, { email: input.email.trim(), passwordHash, role: input.role }),
      );
      await recordAudit(trx, audit, {
        targetType: 'user',
        targetId: row.id,
        before: null,
        after: row,
      });
      return row;
    });
    return generated ? { ...created, password: generated } : created;
  } catch (e) {
    if (isUniqueViolation(e)) {
      throw new DomainError('conflict', 'a user with this email exists', { param: 'email' });
    }
    throw e;
  }
}

/**
 * Changes role, disabled or password (admin). Disabling or a new password revokes the user's
 * refresh tokens and earlier access JWTs; every process drops its cached state via NOTIFY.
 */
export async function updateUser(
  deps: Deps,
  actor: UserPrincipal,
  id: string,
  input: {
    role?: 'admin' | 'member' | undefined;
    disabled?: boolean | undefined;
    password?: string | undefined;
  },
  audit?: AuditStamp,
): Promise<UserView> {
  if (id === actor.userId && (input.disabled === true || input.role === 'member')) {
    throw new DomainError('conflict', 'admins cannot disable or demote themselves');
  }
  const passwordHash =
    input.password === undefined ? undefined : await hashPassword(input.password);
  const now = deps.clock.now();
  const row = await deps.db.transaction().execute(async (trx) => {
    const revoke = passwordHash !== undefined || input.disabled === true;
    const before = await trx
      .selectFrom('users')
      .select(columns)
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    if (!before) return undefined;
    const updated = await trx
      .updateTable('users')
      .set({
        ...(input.role !== undefined ? { role: input.role } : {}),
        ...(input.disabled !== undefined ? { disabled: input.disabled } : {}),
        ...(passwordHash !== undefined ? { password_hash: passwordHash } : {}),
        ...(revoke ? { token_generation: sql<number>`token_generation + 1` } : {}),
        updated_at: now,
      })
      .where('id', '=', id)
      .returning(columns)
      .executeTakeFirstOrThrow();
    if (revoke) await revokeUserFamilies(trx, id, now);
    await publishAuthEvent(trx, { k: 'user', id });
    await recordAudit(trx, audit, {
      targetType: 'user',
      targetId: id,
      before: view(before),
      // The new password itself never enters the log; that it changed does.
      after:
        passwordHash !== undefined ? { ...view(updated), passwordChanged: true } : view(updated),
    });
    return updated;
  });
  if (!row) throw new DomainError('not_found', 'user not found');
  deps.auth.invalidate({ k: 'user', id });
  return view(row);
}
