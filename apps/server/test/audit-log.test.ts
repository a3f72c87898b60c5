import { randomUUID } from 'node:crypto';
import { appRouter, createCaller, createContextInner } from '@tollgate/api';
import { purgeAuditLog } from '@tollgate/core';
import { createTestDeps, createTestUser, type TestUser } from '@tollgate/core/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  type IdentityServer,
  type Json,
  startIdentityServer,
  stopIdentityServer,
} from './identity-helpers.ts';

// The audit log (PRODUCT.md): every admin or manager action writes one append-only row
// {id, actorId, action, targetType, targetId, before, after (secrets removed), requestId,
// createdAt}; audit.list (admin) reads it; nothing changes it.

let s: IdentityServer;
let admin: TestUser;
let member: TestUser;

/** Secrets that must never reach an audit row. */
const canaries: string[] = [];
const canary = (label: string) => {
  const c = `canary-${label}-${randomUUID()}`;
  canaries.push(c);
  return c;
};

async function auditRows() {
  return s.testDb.db.selectFrom('audit_log').selectAll().orderBy('created_at').execute();
}

beforeAll(async () => {
  s = await startIdentityServer();
  admin = await createTestUser(s.testDb.db, { role: 'admin' });
  member = await createTestUser(s.testDb.db);
});
afterAll(() => stopIdentityServer(s));

/**
 * Mutations that are not admin or manager actions: a caller's own session, model calls, batches.
 * Every other mutation must appear in `steps` below (and so write exactly one audit row).
 */
const notAudited = new Set([
  'auth.login',
  'auth.refresh',
  'auth.logout',
  'chat.complete',
  'embeddings.create',
  // A caller's own batches and own webhook secret: their work, not administration.
  'batches.create',
  'batches.cancel',
  'webhooks.rotateSecret',
]);

type Step = { action: string; run: () => Promise<{ status: number; body: Json }> };

describe('audit rows: exactly one per admin or manager action, no secret in any', () => {
  const ids: Record<string, string> = {};
  const as = (token: string, requestId: string) => ({
    token,
    headers: { 'x-request-id': requestId },
  });
  const steps: Step[] = [
    {
      action: 'users.create',
      run: () =>
        api(s.app, 'POST', '/api/users', {
          ...as(admin.apiKey, 'req-users-create'),
          body: {
            email: `audited-${randomUUID()}@example.test`,
            password: canary('pw'),
            role: 'member',
          },
        }),
    },
    {
      action: 'users.create',
      // A generated password comes back once; it must not be in the log either.
      run: () =>
        api(s.app, 'POST', '/api/users', {
          ...as(admin.apiKey, 'req-users-create-2'),
          body: { email: `generated-${randomUUID()}@example.test`, role: 'member' },
        }),
    },
    {
      action: 'users.update',
      run: () =>
        api(s.app, 'PATCH', `/api/users/${ids.user}`, {
          ...as(admin.apiKey, 'req-users-update'),
          body: { password: canary('newpw'), role: 'admin' },
        }),
    },
    {
      action: 'keys.create',
      run: () =>
        api(s.app, 'POST', '/api/keys', {
          ...as(member.apiKey, 'req-keys-create'),
          body: { name: 'audited key', allowedModels: ['mock-echo'] },
        }),
    },
    {
      action: 'keys.update',
      run: () =>
        api(s.app, 'PATCH', `/api/keys/${ids.key}`, {
          ...as(member.apiKey, 'req-keys-update'),
          body: { name: 'renamed key', rpmLimit: 10 },
        }),
    },
    {
      action: 'keys.revoke',
      run: () => api(s.app, 'DELETE', `/api/keys/${ids.key}`, as(admin.apiKey, 'req-keys-revoke')),
    },
    {
      action: 'models.upsert',
      run: () =>
        api(s.app, 'PUT', '/api/models/audited-model', {
          ...as(admin.apiKey, 'req-models-upsert'),
          body: {
            provider: 'mock',
            upstreamModel: 'mock-echo',
            kind: 'chat',
            inputPricePerMTok: '1',
            outputPricePerMTok: '2',
          },
        }),
    },
    {
      action: 'models.delete',
      run: () =>
        api(s.app, 'DELETE', '/api/models/audited-model', as(admin.apiKey, 'req-models-delete')),
    },
    {
      action: 'auth.rotateSigningKey',
      run: () =>
        api(s.app, 'POST', '/api/auth/signing-keys/rotate', {
          ...as(admin.apiKey, 'req-rotate'),
          body: {},
        }),
    },
    {
      action: 'teams.create',
      run: () =>
        api(s.app, 'POST', '/api/teams', {
          ...as(admin.apiKey, 'req-teams-create'),
          body: { name: `audited-${randomUUID()}`, allowedModels: ['mock-echo'] },
        }),
    },
    {
      action: 'teams.update',
      run: () =>
        api(s.app, 'PATCH', `/api/teams/${ids.team}`, {
          ...as(admin.apiKey, 'req-teams-update'),
          body: { rpmLimit: 5 },
        }),
    },
    {
      action: 'teams.addMember',
      run: () =>
        api(s.app, 'POST', `/api/teams/${ids.team}/members`, {
          ...as(admin.apiKey, 'req-teams-add'),
          body: { userId: member.id, role: 'manager' },
        }),
    },
    {
      // A manager's action is audited as theirs.
      action: 'keys.create',
      run: () =>
        api(s.app, 'POST', '/api/keys', {
          ...as(member.apiKey, 'req-keys-create-team'),
          body: { name: 'team key', teamId: ids.team },
        }),
    },
    {
      action: 'budgets.set',
      run: () =>
        api(s.app, 'PUT', '/api/budgets', {
          ...as(admin.apiKey, 'req-budgets-set'),
          body: { scope: 'team', targetId: ids.team, period: 'day', amountUsd: '12.5' },
        }),
    },
    {
      action: 'teams.removeMember',
      run: () =>
        api(
          s.app,
          'DELETE',
          `/api/teams/${ids.team}/members/${member.id}`,
          as(admin.apiKey, 'req-teams-remove'),
        ),
    },
    {
      action: 'providers.create',
      run: () =>
        api(s.app, 'POST', '/api/providers', {
          ...as(admin.apiKey, 'req-providers-create'),
          body: {
            kind: 'openai-compatible',
            name: 'audited-connection',
            baseUrl: 'http://127.0.0.1:9/v1',
            apiKey: canary('connection-key'),
            headers: { 'x-upstream-token': canary('connection-header') },
          },
        }),
    },
    {
      action: 'providers.update',
      run: () =>
        api(s.app, 'PATCH', `/api/providers/${ids.connection}`, {
          ...as(admin.apiKey, 'req-providers-update'),
          body: { rpmLimit: 7, apiKey: canary('connection-key-2') },
        }),
    },
    {
      action: 'providers.delete',
      run: () =>
        api(
          s.app,
          'DELETE',
          `/api/providers/${ids.connection}`,
          as(admin.apiKey, 'req-providers-delete'),
        ),
    },
    {
      action: 'teams.delete',
      run: () =>
        api(s.app, 'DELETE', `/api/teams/${ids.team}`, as(admin.apiKey, 'req-teams-delete')),
    },
  ];

  it('covers every mutation that is not a caller’s own session or model call', () => {
    const mutations = Object.entries(appRouter._def.procedures)
      .filter(([, p]) => (p as unknown as { _def: { type: string } })._def.type === 'mutation')
      .map(([name]) => name)
      .filter((n) => !notAudited.has(n));
    const covered = new Set(steps.map((st) => st.action));
    expect(mutations.filter((m) => !covered.has(m))).toEqual([]);
  });

  it('writes one row per action, in the same shape, with the request id and actor', async () => {
    for (const step of steps) {
      const before = (await auditRows()).length;
      const r = await step.run();
      expect(r.status, `${step.action}: ${JSON.stringify(r.body)}`).toBe(200);
      if (step.action === 'users.create' && !ids.user) ids.user = r.body.id as string;
      if (step.action === 'users.create' && typeof r.body.password === 'string')
        canaries.push(r.body.password);
      if (step.action === 'keys.create' && typeof r.body.key === 'string') {
        canaries.push(r.body.key);
        ids.key ??= r.body.id as string;
      }
      if (step.action === 'teams.create') ids.team = r.body.id as string;
      if (step.action === 'providers.create') ids.connection = r.body.id as string;
      const rows = await auditRows();
      expect(rows.length - before, step.action).toBe(1);
      const row = rows.at(-1);
      expect(row?.action).toBe(step.action);
    }
    const page = await api(s.app, 'GET', '/api/audit?limit=500', { token: admin.apiKey });
    expect(page.status).toBe(200);
    const items = page.body.items as Json[];
    expect(items).toHaveLength(steps.length);
    // Newest first.
    expect(items.map((i) => i.action)).toEqual(steps.map((st) => st.action).reverse());
    const byReq = (id: string) => items.find((i) => i.requestId === id);
    expect(byReq('req-users-update')).toMatchObject({
      actorId: admin.id,
      targetType: 'user',
      targetId: ids.user,
      before: { role: 'member' },
      after: { role: 'admin', passwordChanged: true },
      createdAt: expect.stringMatching(/Z$/),
    });
    expect(byReq('req-keys-update')).toMatchObject({
      actorId: member.id,
      targetType: 'api_key',
      targetId: ids.key,
      before: { name: 'audited key', rpmLimit: null },
      after: { name: 'renamed key', rpmLimit: 10 },
    });
    expect(byReq('req-keys-create-team')).toMatchObject({
      actorId: member.id,
      after: { teamId: ids.team, name: 'team key' },
    });
    expect(byReq('req-providers-update')).toMatchObject({
      actorId: admin.id,
      targetType: 'provider_connection',
      targetId: ids.connection,
      before: { name: 'audited-connection', rpmLimit: null },
      after: { rpmLimit: 7, headers: { 'x-upstream-token': '[redacted]' } },
    });
    expect(byReq('req-models-delete')).toMatchObject({
      targetType: 'model',
      targetId: 'audited-model',
      before: { name: 'audited-model' },
      after: null,
    });
    expect(byReq('req-teams-remove')).toMatchObject({
      targetType: 'team_member',
      before: { userId: member.id, role: 'manager' },
      after: { revokedKeyIds: [expect.any(String)] },
    });
    expect(byReq('req-budgets-set')).toMatchObject({
      actorId: admin.id,
      targetType: 'budget',
      before: null,
      after: { scope: 'team', targetId: ids.team, period: 'day', amountUsd: '12.5' },
    });
    expect(byReq('req-rotate')).toMatchObject({
      targetType: 'signing_key',
      after: { activeKid: expect.any(String) },
    });
  });

  it('never stores a secret: passwords, key secrets, signing keys', async () => {
    const all = JSON.stringify(await auditRows());
    expect(canaries.length).toBeGreaterThanOrEqual(5);
    for (const c of canaries) expect(all).not.toContain(c);
    const keys = await s.testDb.db.selectFrom('signing_keys').select('private_jwk_enc').execute();
    for (const k of keys) expect(all).not.toContain(k.private_jwk_enc);
    expect(all).not.toMatch(/"(password|key|keyHash|passwordHash|d|privateJwk)":/);
  });

  it('writes nothing when the change is refused', async () => {
    const before = (await auditRows()).length;
    expect(
      (await api(s.app, 'POST', '/api/teams', { token: member.apiKey, body: { name: 'x' } }))
        .status,
    ).toBe(403);
    expect(
      (
        await api(s.app, 'PATCH', `/api/keys/${admin.apiKeyId}`, {
          token: member.apiKey,
          body: { name: 'x' },
        })
      ).status,
    ).toBe(404);
    expect(
      (
        await api(s.app, 'POST', '/api/users', {
          token: admin.apiKey,
          body: { email: member.email, role: 'member' },
        })
      ).status,
    ).toBe(409);
    expect((await auditRows()).length).toBe(before);
  });

  it('audits tRPC calls the same way', async () => {
    const caller = createCaller(
      createContextInner(s.deps, admin.principal, {}, { requestId: 'req-trpc', surface: 'trpc' }),
    );
    const team = await caller.teams.create({ name: `trpc-${randomUUID()}` });
    const rows = await s.testDb.db
      .selectFrom('audit_log')
      .selectAll()
      .where('request_id', '=', 'req-trpc')
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: 'teams.create',
      actor_id: admin.id,
      target_type: 'team',
      target_id: team.id,
      before: null,
    });
  });
});

describe('audit.list', () => {
  it('is admin only (403 for members) and filters by action, actor, target and time', async () => {
    expect((await api(s.app, 'GET', '/api/audit', { token: member.apiKey })).status).toBe(403);
    const q = async (query: string) =>
      (await api(s.app, 'GET', `/api/audit?${query}`, { token: admin.apiKey })).body
        .items as Json[];
    const creates = await q('action=keys.create');
    expect(creates.length).toBeGreaterThanOrEqual(2);
    expect(creates.every((i) => i.action === 'keys.create')).toBe(true);
    const byMember = await q(`actorId=${member.id}`);
    expect(byMember.length).toBeGreaterThan(0);
    expect(byMember.every((i) => i.actorId === member.id)).toBe(true);
    const models = await q('targetType=model&targetId=audited-model');
    expect(models.map((i) => i.action)).toEqual(['models.delete', 'models.upsert']);
    expect(await q(`from=${new Date(Date.now() + 60_000).toISOString()}`)).toEqual([]);
    const p1 = await api(s.app, 'GET', '/api/audit?limit=2', { token: admin.apiKey });
    const p2 = await api(s.app, 'GET', `/api/audit?limit=2&cursor=${p1.body.nextCursor}`, {
      token: admin.apiKey,
    });
    const ids1 = (p1.body.items as Json[]).map((i) => i.id);
    const ids2 = (p2.body.items as Json[]).map((i) => i.id);
    expect(ids1).toHaveLength(2);
    expect(ids2).toHaveLength(2);
    expect(ids1.filter((i) => ids2.includes(i))).toEqual([]);
    const bad = await api(s.app, 'GET', '/api/audit?actorId=nope', { token: admin.apiKey });
    expect(bad.status).toBe(400);
  });
});

describe('append-only', () => {
  it('offers no route that changes it', async () => {
    const doc = (await api(s.app, 'GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const auditPaths = Object.entries(doc.paths).filter(([p]) => p.includes('audit'));
    expect(auditPaths.map(([p, ops]) => [p, Object.keys(ops)])).toEqual([['/audit', ['get']]]); // servers: /api
    const procs = Object.keys(appRouter._def.procedures).filter((n) => n.startsWith('audit.'));
    expect(procs).toEqual(['audit.list']);
    const before = JSON.stringify(await auditRows());
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      const r = await api(s.app, method, '/api/audit', { token: admin.apiKey, body: {} });
      expect(r.status).toBeGreaterThanOrEqual(400);
    }
    expect(JSON.stringify(await auditRows())).toBe(before);
  });

  it('is refused UPDATE, DELETE and TRUNCATE by the database itself', async () => {
    const db = s.testDb.db;
    await expect(db.updateTable('audit_log').set({ action: 'forged' }).execute()).rejects.toThrow(
      /append-only/,
    );
    await expect(db.deleteFrom('audit_log').execute()).rejects.toThrow(/append-only/);
    await expect(sql`truncate audit_log`.execute(db)).rejects.toThrow(/append-only/);
    const rows = await auditRows();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.some((r) => r.action === 'forged')).toBe(false);
  });

  it('lets only the retention purge remove rows older than AUDIT_RETENTION_DAYS', async () => {
    const db = s.testDb.db;
    const old = new Date(Date.now() - 40 * 86_400_000);
    await db
      .insertInto('audit_log')
      .values({ action: 'users.create', target_type: 'user', created_at: old })
      .execute();
    const total = (await auditRows()).length;
    const keepAll = createTestDeps(db, s.testDb.pool, { env: { AUDIT_RETENTION_DAYS: '0' } });
    expect(await purgeAuditLog(keepAll)).toBe(0);
    const keep60 = createTestDeps(db, s.testDb.pool, { env: { AUDIT_RETENTION_DAYS: '60' } });
    expect(await purgeAuditLog(keep60)).toBe(0);
    const keep30 = createTestDeps(db, s.testDb.pool, { env: { AUDIT_RETENTION_DAYS: '30' } });
    expect(await purgeAuditLog(keep30)).toBe(1);
    const after = await auditRows();
    expect(after).toHaveLength(total - 1);
    expect(after.every((r) => r.created_at > old)).toBe(true);
    // The purge's permission ended with it.
    await expect(db.deleteFrom('audit_log').execute()).rejects.toThrow(/append-only/);
    for (const d of [keepAll, keep60, keep30]) {
      await d.auth.close();
      await d.requestLog.close();
    }
  });
});
