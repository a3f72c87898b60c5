import { authenticate, seedModels, teamOf } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  type IdentityServer,
  type Json,
  startIdentityServer,
  stopIdentityServer,
} from './identity-helpers.ts';

// Teams: admins create them; a user may be in several, as member or manager; a team's managers
// manage its members and keys and read its request log; anyone else gets 404 (PRODUCT.md).

let s: IdentityServer;
let admin: TestUser;
let managerA: TestUser;
let managerB: TestUser;
let memberA: TestUser;
let memberB: TestUser;
let both: TestUser;
let teamA: string;
let teamB: string;

const call = (
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  url: string,
  token: string,
  body?: unknown,
) => api(s.app, method, url, { token, ...(body !== undefined ? { body } : {}) });

async function createTeam(name: string): Promise<string> {
  const r = await call('POST', '/api/teams', admin.apiKey, { name });
  expect(r.status).toBe(200);
  return r.body.id as string;
}

async function addMember(team: string, user: TestUser, role: 'member' | 'manager', by = admin) {
  const r = await call('POST', `/api/teams/${team}/members`, by.apiKey, { userId: user.id, role });
  expect(r.status).toBe(200);
  return r;
}

async function teamKey(user: TestUser, team: string, name = 'team key') {
  const r = await call('POST', '/api/keys', user.apiKey, { name, teamId: team });
  expect(r.status).toBe(200);
  return { id: r.body.id as string, key: r.body.key as string };
}

async function chat(key: string): Promise<string> {
  const r = await call('POST', '/api/chat/completions', key, {
    model: 'mock-echo',
    messages: [{ role: 'user', content: 'hello team' }],
  });
  expect(r.status).toBe(200);
  return r.body.requestId as string;
}

beforeAll(async () => {
  s = await startIdentityServer();
  await seedModels(s.deps);
  const db = s.testDb.db;
  admin = await createTestUser(db, { role: 'admin' });
  managerA = await createTestUser(db);
  managerB = await createTestUser(db);
  memberA = await createTestUser(db);
  memberB = await createTestUser(db);
  both = await createTestUser(db);
  teamA = await createTeam('Team A');
  teamB = await createTeam('Team B');
  await addMember(teamA, managerA, 'manager');
  await addMember(teamB, managerB, 'manager');
  await addMember(teamA, memberA, 'member');
  await addMember(teamB, memberB, 'member');
  await addMember(teamA, both, 'member');
  await addMember(teamB, both, 'member');
});
afterAll(() => stopIdentityServer(s));

describe('teams: admin CRUD', () => {
  it('creates, renames and lists teams; names are unique case-insensitively', async () => {
    const dup = await call('POST', '/api/teams', admin.apiKey, { name: 'team a' });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ error: { code: 'conflict' } });
    const id = await createTeam('Scratch');
    const upd = await call('PATCH', `/api/teams/${id}`, admin.apiKey, {
      name: 'Scratch 2',
      rpmLimit: 100,
      allowedModels: ['mock-echo'],
    });
    expect(upd.status).toBe(200);
    expect(upd.body).toMatchObject({
      id,
      name: 'Scratch 2',
      rpmLimit: 100,
      tpmLimit: null,
      allowedModels: ['mock-echo'],
      members: [],
    });
    const list = await call('GET', '/api/teams?limit=500', admin.apiKey);
    const names = (list.body.items as Json[]).map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['Team A', 'Team B', 'Scratch 2']));
    const a = (list.body.items as Json[]).find((t) => t.id === teamA);
    expect(((a?.members ?? []) as Json[]).map((m) => [m.userId, m.role])).toEqual([
      [managerA.id, 'manager'],
      [memberA.id, 'member'],
      [both.id, 'member'],
    ]);
    const del = await call('DELETE', `/api/teams/${id}`, admin.apiKey);
    expect(del.body).toEqual({ id, deleted: true, revokedKeyIds: [] });
    expect((await call('DELETE', `/api/teams/${id}`, admin.apiKey)).status).toBe(404);
  });

  it('refuses members and managers on create, update and delete (403), and bad input (400)', async () => {
    for (const who of [memberA, managerA]) {
      expect((await call('POST', '/api/teams', who.apiKey, { name: 'x' })).status).toBe(403);
      expect((await call('PATCH', `/api/teams/${teamA}`, who.apiKey, { name: 'x' })).status).toBe(
        403,
      );
      expect((await call('DELETE', `/api/teams/${teamA}`, who.apiKey)).status).toBe(403);
    }
    const bad = await call('POST', '/api/teams', admin.apiKey, { name: 'y', members: [] });
    expect(bad.status).toBe(400);
    const badRole = await call('POST', `/api/teams/${teamA}/members`, admin.apiKey, {
      userId: memberB.id,
      role: 'owner',
    });
    expect(badRole.status).toBe(400);
  });

  it('lists only their own teams to non-admins; a user may be in several', async () => {
    const mine = await call('GET', '/api/teams', both.apiKey);
    expect((mine.body.items as Json[]).map((t) => t.name).sort()).toEqual(['Team A', 'Team B']);
    const a = await call('GET', '/api/teams', memberA.apiKey);
    expect((a.body.items as Json[]).map((t) => t.name)).toEqual(['Team A']);
    const outsider = await createTestUser(s.testDb.db);
    expect((await call('GET', '/api/teams', outsider.apiKey)).body.items).toEqual([]);
  });
});

describe('managers: their own team only (others → 404)', () => {
  it("manages members of their team and gets 404 on another team's", async () => {
    const newcomer = await createTestUser(s.testDb.db);
    const add = await addMember(teamA, newcomer, 'member', managerA);
    expect((add.body.members as Json[]).some((m) => m.userId === newcomer.id)).toBe(true);
    // Another team's manager, and a plain member: exactly as for a team that does not exist.
    for (const who of [managerB, memberA]) {
      const r = await call('POST', `/api/teams/${teamA}/members`, who.apiKey, {
        userId: memberB.id,
        role: 'manager',
      });
      expect(r.status).toBe(404);
      expect(r.body).toMatchObject({ error: { code: 'not_found', message: 'team not found' } });
      const rm = await call('DELETE', `/api/teams/${teamA}/members/${newcomer.id}`, who.apiKey);
      expect(rm.status).toBe(404);
    }
    const missing = await call(
      'POST',
      '/api/teams/00000000-0000-4000-8000-000000000000/members',
      managerB.apiKey,
      { userId: memberB.id, role: 'member' },
    );
    expect(missing.body).toEqual(
      (
        await call('POST', `/api/teams/${teamA}/members`, managerB.apiKey, {
          userId: memberB.id,
          role: 'member',
        })
      ).body,
    );
    const rm = await call('DELETE', `/api/teams/${teamA}/members/${newcomer.id}`, managerA.apiKey);
    expect(rm.status).toBe(200);
    expect((rm.body.members as Json[]).some((m) => m.userId === newcomer.id)).toBe(false);
  });

  it("sees, changes and revokes their team's keys; another team's manager gets 404", async () => {
    const k = await teamKey(memberA, teamA);
    const listA = await call('GET', '/api/keys?limit=500', managerA.apiKey);
    expect((listA.body.items as Json[]).find((x) => x.id === k.id)).toMatchObject({
      userId: memberA.id,
      teamId: teamA,
    });
    const listB = await call('GET', '/api/keys?limit=500', managerB.apiKey);
    expect((listB.body.items as Json[]).some((x) => x.id === k.id)).toBe(false);
    // A plain member of the same team does not see a teammate's key either.
    const listBoth = await call('GET', '/api/keys?limit=500', both.apiKey);
    expect((listBoth.body.items as Json[]).some((x) => x.id === k.id)).toBe(false);

    for (const who of [managerB, both]) {
      const p = await call('PATCH', `/api/keys/${k.id}`, who.apiKey, { name: 'hijacked' });
      expect(p.status).toBe(404);
      const d = await call('DELETE', `/api/keys/${k.id}`, who.apiKey);
      expect(d.status).toBe(404);
    }
    const renamed = await call('PATCH', `/api/keys/${k.id}`, managerA.apiKey, { name: 'renamed' });
    expect(renamed.body).toMatchObject({ name: 'renamed', userId: memberA.id });
    const revoked = await call('DELETE', `/api/keys/${k.id}`, managerA.apiKey);
    expect(revoked.status).toBe(200);
    expect((await call('GET', '/api/me', k.key)).status).toBe(401);
  });

  it('refuses a team key in a team the caller is not in (404 naming teamId)', async () => {
    const r = await call('POST', '/api/keys', memberB.apiKey, { name: 'x', teamId: teamA });
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ error: { code: 'not_found' } });
    const keys = await s.testDb.db
      .selectFrom('api_keys')
      .select('id')
      .where('user_id', '=', memberB.id)
      .where('team_id', '=', teamA)
      .execute();
    expect(keys).toEqual([]);
    // A member of both teams may make keys in each.
    const kA = await teamKey(both, teamA);
    const kB = await teamKey(both, teamB);
    const pA = await authenticate(s.deps, { authorization: `Bearer ${kA.key}` });
    const pB = await authenticate(s.deps, { authorization: `Bearer ${kB.key}` });
    if (pA.kind !== 'user' || pB.kind !== 'user') throw new Error('keys must authenticate');
    // The subjects a call counts against, for budgets and limits.
    expect(teamOf(pA)).toEqual([teamA]);
    expect(teamOf(pB)).toEqual([teamB]);
    expect(teamOf(both.principal)).toEqual([]);
  });

  it("reads their team's request log, not another team's nor members' personal calls", async () => {
    const k = await teamKey(memberA, teamA, 'logged');
    const teamCall = await chat(k.key);
    const personalCall = await chat(memberA.apiKey);
    const otherTeam = await chat((await teamKey(memberB, teamB, 'b')).key);
    await s.deps.requestLog.flush();

    const seen = async (who: TestUser) =>
      ((await call('GET', '/api/requests?limit=500', who.apiKey)).body.items as Json[]).map(
        (r) => r.requestId,
      );
    const a = await seen(managerA);
    expect(a).toContain(teamCall);
    expect(a).not.toContain(personalCall);
    expect(a).not.toContain(otherTeam);
    expect(await seen(managerB)).toContain(otherTeam);
    expect(await seen(managerB)).not.toContain(teamCall);

    expect((await call('GET', `/api/requests/${teamCall}`, managerA.apiKey)).body).toMatchObject({
      requestId: teamCall,
      userId: memberA.id,
      keyId: k.id,
    });
    expect((await call('GET', `/api/requests/${teamCall}`, managerB.apiKey)).status).toBe(404);
    expect((await call('GET', `/api/requests/${personalCall}`, managerA.apiKey)).status).toBe(404);
    // A plain member of team A sees their own calls only.
    expect(await seen(both)).not.toContain(teamCall);
  });
});

describe('leaving a team, deleting a team', () => {
  it('removing a member revokes their keys in that team, not elsewhere', async () => {
    const leaver = await createTestUser(s.testDb.db);
    await addMember(teamA, leaver, 'member');
    await addMember(teamB, leaver, 'member');
    const kA = await teamKey(leaver, teamA);
    const kB = await teamKey(leaver, teamB);
    expect((await call('GET', '/api/me', kA.key)).status).toBe(200);
    const rm = await call('DELETE', `/api/teams/${teamA}/members/${leaver.id}`, managerA.apiKey);
    expect(rm.status).toBe(200);
    const gone = await call('GET', '/api/me', kA.key);
    expect(gone.status).toBe(401);
    expect(gone.body).toMatchObject({ error: { code: 'key_revoked' } });
    expect((await call('GET', '/api/me', kB.key)).status).toBe(200);
    expect((await call('GET', '/api/me', leaver.apiKey)).status).toBe(200);
    const again = await call('DELETE', `/api/teams/${teamA}/members/${leaver.id}`, admin.apiKey);
    expect(again.status).toBe(404);
  });

  it('deleting a team revokes its keys at once', async () => {
    const id = await createTeam('Doomed');
    await addMember(id, memberA, 'member');
    const k = await teamKey(memberA, id);
    expect(await chat(k.key)).toEqual(expect.any(String));
    const del = await call('DELETE', `/api/teams/${id}`, admin.apiKey);
    expect(del.body).toEqual({ id, deleted: true, revokedKeyIds: [k.id] });
    const r = await call('GET', '/api/me', k.key);
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ error: { code: 'key_revoked' } });
  });
});
