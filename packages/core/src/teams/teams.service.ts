import type { DB } from '@tollgate/db';
import type { Kysely, Transaction } from 'kysely';
import { type AuditStamp, recordAudit } from '../audit/audit.service.ts';
import { publishAuthEvent } from '../auth/auth-events.ts';
import type { UserPrincipal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { DomainError, isUniqueViolation } from '../errors.ts';
import { olderThanCursor, type Page, type PageInput, pageParams, toPage } from '../pagination.ts';
import { seesAll } from './team-access.ts';

export type TeamRole = 'member' | 'manager';

export type TeamMemberView = { userId: string; email: string; role: TeamRole; createdAt: string };

export type TeamView = {
  id: string;
  name: string;
  /** Catalog names or aliases; empty = every model. */
  allowedModels: string[];
  rpmLimit: number | null;
  tpmLimit: number | null;
  members: TeamMemberView[];
  createdAt: string;
  updatedAt: string;
};

type TeamRow = {
  id: string;
  name: string;
  allowed_models: string[];
  rpm_limit: number | null;
  tpm_limit: number | null;
  created_at: Date;
  updated_at: Date;
};

async function membersOf(db: Kysely<DB>, teamIds: string[]) {
  if (teamIds.length === 0) return new Map<string, TeamMemberView[]>();
  const rows = await db
    .selectFrom('team_members as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select(['m.team_id', 'm.user_id', 'u.email', 'm.role', 'm.created_at'])
    .where('m.team_id', 'in', teamIds)
    .orderBy('m.created_at')
    .orderBy('m.user_id')
    .execute();
  const out = new Map<string, TeamMemberView[]>();
  for (const r of rows) {
    const list = out.get(r.team_id) ?? [];
    list.push({
      userId: r.user_id,
      email: r.email,
      role: r.role,
      createdAt: r.created_at.toISOString(),
    });
    out.set(r.team_id, list);
  }
  return out;
}

function view(r: TeamRow, members: TeamMemberView[]): TeamView {
  return {
    id: r.id,
    name: r.name,
    allowedModels: r.allowed_models,
    rpmLimit: r.rpm_limit,
    tpmLimit: r.tpm_limit,
    members,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

async function teamView(db: Kysely<DB>, r: TeamRow): Promise<TeamView> {
  return view(r, (await membersOf(db, [r.id])).get(r.id) ?? []);
}

const nameTaken = () =>
  new DomainError('conflict', 'a team with this name exists', { param: 'name' });
const teamNotFound = () => new DomainError('not_found', 'team not found');

const uniq = (xs: readonly string[] | undefined) => (xs ? [...new Set(xs)] : undefined);

/** Teams, newest first: an admin sees every team, anyone else the teams they belong to. */
export async function listTeams(
  deps: Pick<Deps, 'db'>,
  p: UserPrincipal,
  input: PageInput,
): Promise<Page<TeamView>> {
  const { limit, cursor } = pageParams(input);
  let q = deps.db.selectFrom('teams').selectAll();
  if (!seesAll(p)) {
    q = q.where('id', 'in', (eb) =>
      eb.selectFrom('team_members').select('team_id').where('user_id', '=', p.userId),
    );
  }
  if (cursor) q = q.where(olderThanCursor('teams', cursor));
  const rows = await q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  const members = await membersOf(
    deps.db,
    rows.map((r) => r.id),
  );
  return toPage(rows, limit, (r) => view(r, members.get(r.id) ?? []));
}

export type TeamSettings = {
  name?: string | undefined;
  allowedModels?: readonly string[] | undefined;
  rpmLimit?: number | null | undefined;
  tpmLimit?: number | null | undefined;
};

/** Creates a team (admin). */
export async function createTeam(
  deps: Pick<Deps, 'db'>,
  input: TeamSettings & { name: string },
  audit?: AuditStamp,
): Promise<TeamView> {
  try {
    return await deps.db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('teams')
        .values({
          name: input.name.trim(),
          allowed_models: uniq(input.allowedModels) ?? [],
          rpm_limit: input.rpmLimit ?? null,
          tpm_limit: input.tpmLimit ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const team = view(row, []);
      await recordAudit(trx, audit, {
        targetType: 'team',
        targetId: row.id,
        before: null,
        after: team,
      });
      return team;
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw nameTaken();
    throw e;
  }
}

async function lockTeam(trx: Transaction<DB>, id: string): Promise<TeamRow> {
  const row = await trx
    .selectFrom('teams')
    .selectAll()
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw teamNotFound();
  return row;
}

/**
 * Changes a team's name, allow-list or limits (admin); every process drops its cached copy of
 * the team at commit (NOTIFY), so a narrower allow-list applies to the next call.
 */
export async function updateTeam(
  deps: Pick<Deps, 'db' | 'auth' | 'clock'>,
  id: string,
  input: TeamSettings,
  audit?: AuditStamp,
): Promise<TeamView> {
  const allowed = uniq(input.allowedModels);
  try {
    const team = await deps.db.transaction().execute(async (trx) => {
      const before = await teamView(trx, await lockTeam(trx, id));
      const row = await trx
        .updateTable('teams')
        .set({
          ...(input.name !== undefined ? { name: input.name.trim() } : {}),
          ...(allowed !== undefined ? { allowed_models: allowed } : {}),
          ...(input.rpmLimit !== undefined ? { rpm_limit: input.rpmLimit } : {}),
          ...(input.tpmLimit !== undefined ? { tpm_limit: input.tpmLimit } : {}),
          updated_at: deps.clock.now(),
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const after = view(row, before.members);
      await publishAuthEvent(trx, { k: 'team', id });
      await recordAudit(trx, audit, { targetType: 'team', targetId: id, before, after });
      return after;
    });
    deps.auth.invalidate({ k: 'team', id });
    return team;
  } catch (e) {
    if (isUniqueViolation(e)) throw nameTaken();
    throw e;
  }
}

/**
 * Deletes a team (admin). Its live keys are revoked in the same transaction: a team key must
 * never outlive the allow-list and budget it was made under.
 */
export async function deleteTeam(
  deps: Pick<Deps, 'db' | 'auth' | 'clock'>,
  id: string,
  audit?: AuditStamp,
): Promise<{ id: string; deleted: true; revokedKeyIds: string[] }> {
  const revoked = await deps.db.transaction().execute(async (trx) => {
    const before = await teamView(trx, await lockTeam(trx, id));
    const keys = await trx
      .updateTable('api_keys')
      .set({ revoked_at: deps.clock.now() })
      .where('team_id', '=', id)
      .where('revoked_at', 'is', null)
      .returning('id')
      .execute();
    const revokedKeyIds = keys.map((k) => k.id);
    await trx.deleteFrom('teams').where('id', '=', id).execute();
    await publishAuthEvent(trx, { k: 'team', id });
    await recordAudit(trx, audit, {
      targetType: 'team',
      targetId: id,
      before: { ...before, revokedKeyIds },
      after: null,
    });
    return revokedKeyIds;
  });
  deps.auth.invalidate({ k: 'team', id });
  return { id, deleted: true, revokedKeyIds: revoked };
}

/**
 * Locks the team for a membership change by `p`: an admin, or a manager of that team. Anyone
 * else gets "team not found", exactly as for a team that does not exist.
 */
async function lockManagedTeam(trx: Transaction<DB>, p: UserPrincipal, id: string) {
  const row = await lockTeam(trx, id);
  if (seesAll(p)) return row;
  const me = await trx
    .selectFrom('team_members')
    .select('role')
    .where('team_id', '=', id)
    .where('user_id', '=', p.userId)
    .executeTakeFirst();
  if (me?.role !== 'manager') throw teamNotFound();
  return row;
}

/** Adds a user to a team, or changes their role there (admin, or a manager of the team). */
export async function addTeamMember(
  deps: Pick<Deps, 'db'>,
  p: UserPrincipal,
  teamId: string,
  input: { userId: string; role: TeamRole },
  audit?: AuditStamp,
): Promise<TeamView> {
  return deps.db.transaction().execute(async (trx) => {
    const team = await lockManagedTeam(trx, p, teamId);
    const user = await trx
      .selectFrom('users')
      .select(['id', 'email'])
      .where('id', '=', input.userId)
      .executeTakeFirst();
    if (!user) throw new DomainError('not_found', 'user not found', { param: 'userId' });
    const before = await trx
      .selectFrom('team_members')
      .select(['role'])
      .where('team_id', '=', teamId)
      .where('user_id', '=', input.userId)
      .executeTakeFirst();
    await trx
      .insertInto('team_members')
      .values({ team_id: teamId, user_id: input.userId, role: input.role })
      .onConflict((oc) => oc.columns(['team_id', 'user_id']).doUpdateSet({ role: input.role }))
      .execute();
    const membership = (role: TeamRole) => ({
      teamId,
      userId: input.userId,
      email: user.email,
      role,
    });
    await recordAudit(trx, audit, {
      targetType: 'team_member',
      targetId: `${teamId}:${input.userId}`,
      before: before ? membership(before.role) : null,
      after: membership(input.role),
    });
    return teamView(trx, team);
  });
}

/**
 * Removes a user from a team (admin, or a manager of the team). Their live keys in that team are
 * revoked with it: a former member must not keep spending the team's budget.
 */
export async function removeTeamMember(
  deps: Pick<Deps, 'db' | 'auth' | 'clock'>,
  p: UserPrincipal,
  teamId: string,
  userId: string,
  audit?: AuditStamp,
): Promise<TeamView> {
  const { team, revoked } = await deps.db.transaction().execute(async (trx) => {
    const row = await lockManagedTeam(trx, p, teamId);
    const gone = await trx
      .deleteFrom('team_members')
      .where('team_id', '=', teamId)
      .where('user_id', '=', userId)
      .returning(['role'])
      .executeTakeFirst();
    if (!gone) throw new DomainError('not_found', 'not a member of this team', { param: 'userId' });
    const keys = await trx
      .updateTable('api_keys')
      .set({ revoked_at: deps.clock.now() })
      .where('team_id', '=', teamId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .returning('id')
      .execute();
    for (const k of keys) await publishAuthEvent(trx, { k: 'key', id: k.id });
    await recordAudit(trx, audit, {
      targetType: 'team_member',
      targetId: `${teamId}:${userId}`,
      before: { teamId, userId, role: gone.role },
      after: keys.length > 0 ? { revokedKeyIds: keys.map((k) => k.id) } : null,
    });
    return { team: await teamView(trx, row), revoked: keys.map((k) => k.id) };
  });
  for (const id of revoked) deps.auth.invalidate({ k: 'key', id });
  return team;
}

/**
 * The caller's role in a team, if any (admins: 'admin' for every existing team). The row is
 * share-locked: a concurrent removal waits for the caller's transaction, then sees (and revokes)
 * what it made.
 */
export async function roleInTeam(
  trx: Transaction<DB>,
  p: UserPrincipal,
  teamId: string,
): Promise<TeamRole | 'admin' | undefined> {
  if (seesAll(p)) {
    const t = await trx
      .selectFrom('teams')
      .select('id')
      .where('id', '=', teamId)
      .forShare()
      .executeTakeFirst();
    return t ? 'admin' : undefined;
  }
  const m = await trx
    .selectFrom('team_members')
    .select('role')
    .where('team_id', '=', teamId)
    .where('user_id', '=', p.userId)
    .forShare()
    .executeTakeFirst();
  return m?.role;
}
