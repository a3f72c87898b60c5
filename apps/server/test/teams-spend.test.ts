import { randomUUID } from 'node:crypto';
import { type Clock, seedModels } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, listen, startTestServer, type TestServer } from './helpers.ts';

// Teams × spend (PRODUCT.md): a team key's call is checked against its key's, its user's and its
// team's budgets together, with the same reservation and bound (docs/spend.md); RPM/TPM per team;
// usage groupBy team; a team's budgets and usage are visible to its managers.

let s: TestServer;
let url: string;
let admin: TestUser;

// Windows (minutes, days) never roll over mid-test: the clock stands still.
const frozen = new Date();
const clock: Clock = { now: () => new Date(frozen) };

// "hello": 5 input + 2 output tokens on the mock at $1/$2 per MTok = $0.000009, reserved exactly.
const CALL_USD = 0.000009;

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies read field by field
type Json = any;

async function call(
  method: string,
  path: string,
  key: string,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      'x-request-id': `team-spend-${randomUUID()}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.json() };
}

const chat = (key: string) =>
  call('POST', '/v1/chat/completions', key, {
    model: 'mock-echo',
    max_tokens: 2,
    messages: [{ role: 'user', content: 'hello' }],
  });

/** A team with the given settings and two members (`manager` manages it), each with a team key. */
async function teamOfTwo(settings: Json = {}) {
  const team = await call('POST', '/api/teams', admin.apiKey, {
    name: `t-${randomUUID()}`,
    ...settings,
  });
  expect(team.status).toBe(200);
  const users = [await createTestUser(s.testDb.db), await createTestUser(s.testDb.db)];
  const keys: string[] = [];
  for (const [i, u] of users.entries()) {
    const add = await call('POST', `/api/teams/${team.body.id}/members`, admin.apiKey, {
      userId: u.id,
      role: i === 0 ? 'manager' : 'member',
    });
    expect(add.status).toBe(200);
    const k = await call('POST', '/api/keys', u.apiKey, { name: 'team', teamId: team.body.id });
    expect(k.status).toBe(200);
    keys.push(k.body.key);
  }
  return { id: team.body.id as string, users, keys, manager: users[0] as TestUser };
}

async function loggedRows(userIds: string[]) {
  await s.deps.requestLog.flush();
  return s.testDb.db
    .selectFrom('request_logs')
    .selectAll()
    .where('user_id', 'in', userIds)
    .execute();
}

beforeAll(async () => {
  s = await startTestServer({}, { clock });
  await seedModels(s.deps);
  admin = await createTestUser(s.testDb.db, { role: 'admin' });
  url = await listen(s.app);
});
afterAll(() => closeTestServer(s));

describe('team budgets', () => {
  it('one budget shared by two keys of two users holds under 40 concurrent calls', async () => {
    const t = await teamOfTwo();
    const budgetUsd = 5 * CALL_USD;
    const set = await call('PUT', '/api/budgets', admin.apiKey, {
      scope: 'team',
      targetId: t.id,
      period: 'day',
      amountUsd: budgetUsd.toFixed(6),
    });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ scope: 'team', targetId: t.id, amountUsd: '0.000045' });

    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => chat(t.keys[i % 2] as string)),
    );
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status !== 200);
    // The bound (docs/spend.md): admitted worst cases never exceed the budget, and on the mock
    // the actual cost equals the reservation, so at most five calls fit.
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(ok.length).toBeLessThanOrEqual(5);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.body.error).toMatchObject({ code: 'budget_exceeded' });
    }
    const rows = await loggedRows(t.users.map((u) => u.id));
    const billed = rows.filter((r) => r.status === 'ok');
    expect(billed).toHaveLength(ok.length);
    const total = billed.reduce((a, r) => a + Number(r.cost_usd), 0);
    expect(total).toBeLessThanOrEqual(budgetUsd + 1e-12);
    const rejected = rows.filter((r) => r.status === 'rejected');
    expect(rejected).toHaveLength(refused.length);
    expect(rejected.every((r) => Number(r.cost_usd) === 0)).toBe(true);
    // Both users' team keys were checked against the one budget.
    expect(new Set(rows.map((r) => r.user_id)).size).toBe(2);

    // The team budget is the team's only: the same users' personal keys still work.
    expect((await chat((t.users[1] as TestUser).apiKey)).status).toBe(200);

    // Members see their team's budget; the manager too; an outsider does not.
    await s.deps.limiter.flush();
    for (const u of t.users) {
      const list = await call('GET', '/api/budgets', u.apiKey);
      expect(list.body.items).toEqual([
        expect.objectContaining({
          scope: 'team',
          targetId: t.id,
          remainingUsd: expect.any(String),
        }),
      ]);
    }
    const outsider = await createTestUser(s.testDb.db);
    expect((await call('GET', '/api/budgets', outsider.apiKey)).body.items).toEqual([]);
  });

  it('team RPM caps the team keys together, not the members personal keys', async () => {
    const t = await teamOfTwo({ rpmLimit: 3 });
    const answers: number[] = [];
    for (let i = 0; i < 6; i++) answers.push((await chat(t.keys[i % 2] as string)).status);
    expect(answers.filter((x) => x === 200)).toHaveLength(3);
    const last = await chat(t.keys[1] as string);
    expect(last.status).toBe(429);
    expect(last.body.error).toMatchObject({ code: 'rate_limit_exceeded' });
    expect((await chat((t.users[0] as TestUser).apiKey)).status).toBe(200);
  });

  it('a raised team limit applies to the next call', async () => {
    const t = await teamOfTwo({ rpmLimit: 1 });
    expect((await chat(t.keys[0] as string)).status).toBe(200);
    expect((await chat(t.keys[1] as string)).status).toBe(429);
    const patch = await call('PATCH', `/api/teams/${t.id}`, admin.apiKey, { rpmLimit: 100 });
    expect(patch.status).toBe(200);
    expect((await chat(t.keys[1] as string)).status).toBe(200);
  });

  it('team TPM caps tokens across the team keys', async () => {
    // Each call reserves 5 input + 2 output tokens: 21 tokens admit three calls.
    const t = await teamOfTwo({ tpmLimit: 21 });
    const answers: number[] = [];
    for (let i = 0; i < 5; i++) answers.push((await chat(t.keys[i % 2] as string)).status);
    expect(answers).toEqual([200, 200, 200, 429, 429]);
  });
});

describe('usage by team', () => {
  it('groups by team for admins; a manager sees their team’s calls, a member only theirs', async () => {
    const t = await teamOfTwo();
    for (const k of t.keys) expect((await chat(k)).status).toBe(200);
    const personal = await chat((t.users[1] as TestUser).apiKey);
    expect(personal.status).toBe(200);
    await s.deps.requestLog.flush();
    const day = frozen.toISOString().slice(0, 10);
    const q = `/api/usage?from=${day}&to=${day}&groupBy=team`;
    const all = await call('GET', q, admin.apiKey);
    expect(all.status).toBe(200);
    const group = all.body.items.find((g: Json) => g.group === t.id);
    expect(group).toMatchObject({ requests: 2, costUsd: (2 * CALL_USD).toFixed(6) });

    const mgr = await call('GET', q, t.manager.apiKey);
    // The member's team-key call and the manager's own; not the member's personal call.
    expect(mgr.body.items).toEqual([expect.objectContaining({ group: t.id, requests: 2 })]);
    const member = await call('GET', q, (t.users[1] as TestUser).apiKey);
    expect(member.body.items.map((g: Json) => [g.group, g.requests]).sort()).toEqual([
      ['', 1],
      [t.id, 1],
    ]);
  });
});
