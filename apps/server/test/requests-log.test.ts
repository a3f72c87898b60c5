import { randomUUID } from 'node:crypto';
import { maintainRequestLog, type RequestLogEntry } from '@tollgate/core';
import { createTestUser, type TestUser, testLogEntry } from '@tollgate/core/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;
let alice: TestUser;
let bob: TestUser;
let admin: TestUser;

const zero = {
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
};

const entry = (user: TestUser, over: Partial<RequestLogEntry> = {}): RequestLogEntry =>
  testLogEntry(user, {
    model: 'priced',
    latencyMs: 12,
    usage: zero,
    prices: { input: '0.15', output: '0.6', cachedInput: null, cacheWrite: null },
    ...over,
  });

async function cost(e: RequestLogEntry): Promise<string | null> {
  s.deps.requestLog.record(e);
  await s.deps.requestLog.flush();
  const res = await s.app.inject({
    method: 'GET',
    url: `/api/requests/${e.id}`,
    headers: { authorization: `Bearer ${admin.apiKey}` },
  });
  expect(res.statusCode).toBe(200);
  return res.json().costUsd;
}

const get = (key: string, url: string) =>
  s.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });

beforeAll(async () => {
  s = await startTestServer();
  alice = await createTestUser(s.testDb.db);
  bob = await createTestUser(s.testDb.db);
  admin = await createTestUser(s.testDb.db, { role: 'admin' });
});
afterAll(() => closeTestServer(s));

describe('cost', () => {
  it('is exact: 1,234,567 tokens at $0.15/M is 0.18518505', async () => {
    expect(await cost(entry(alice, { usage: { ...zero, inputTokens: 1_234_567 } }))).toBe(
      '0.18518505',
    );
  });

  it('bills cached reads and cache writes at their own prices, reasoning as output', async () => {
    const c = await cost(
      entry(alice, {
        usage: {
          inputTokens: 1_000_000,
          cachedInputTokens: 400_000,
          cacheWriteTokens: 100_000,
          outputTokens: 2_000_000,
          reasoningTokens: 1_500_000,
        },
        prices: { input: '3', output: '15', cachedInput: '0.3', cacheWrite: '3.75' },
      }),
    );
    // 500k×3 + 400k×0.3 + 100k×3.75 + 2M×15, per million = 1.5 + 0.12 + 0.375 + 30
    expect(c).toBe('31.995');
  });

  it('uses the input price for cached tokens when the model has no cached price', async () => {
    const c = await cost(
      entry(alice, { usage: { ...zero, inputTokens: 1_000_000, cachedInputTokens: 1_000_000 } }),
    );
    expect(c).toBe('0.15');
  });

  it('is null for an unpriced model and 0 for a refusal', async () => {
    expect(
      await cost(
        entry(alice, {
          usage: { ...zero, inputTokens: 10 },
          prices: { input: null, output: '1', cachedInput: null, cacheWrite: null },
        }),
      ),
    ).toBeNull();
    expect(await cost(entry(alice, { status: 'rejected', errorCode: 'budget_exceeded' }))).toBe(
      '0',
    );
  });
});

describe('requests.list and requests.get', () => {
  it('shows members only their own rows; admins all', async () => {
    const mine = entry(alice, { model: 'own-test' });
    const theirs = entry(bob, { model: 'own-test' });
    s.deps.requestLog.record(mine);
    s.deps.requestLog.record(theirs);
    await s.deps.requestLog.flush();

    const aliceList = (await get(alice.apiKey, '/api/requests?model=own-test')).json();
    expect(aliceList.items.map((r: { id: string }) => r.id)).toEqual([mine.id]);
    const adminList = (await get(admin.apiKey, '/api/requests?model=own-test')).json();
    expect(adminList.items).toHaveLength(2);

    expect((await get(alice.apiKey, `/api/requests/${theirs.id}`)).statusCode).toBe(404);
    expect((await get(alice.apiKey, `/api/requests/${theirs.requestId}`)).statusCode).toBe(404);
    expect((await get(alice.apiKey, `/api/requests/${randomUUID()}`)).statusCode).toBe(404);
    const own = await get(alice.apiKey, `/api/requests/${mine.id}`);
    expect(own.statusCode).toBe(200);
    expect(own.json()).toMatchObject({
      id: mine.id,
      requestId: mine.requestId,
      userId: alice.id,
      keyId: alice.apiKeyId,
      status: 'ok',
      bodies: null,
    });
  });

  it('filters by status and time range and pages newest first', async () => {
    const t0 = Date.UTC(2030, 0, 1); // a month nobody prepared: the writer adds its partition
    const rows = Array.from({ length: 5 }, (_, i) =>
      entry(bob, {
        model: 'page-test',
        status: i % 2 === 0 ? 'ok' : 'error',
        createdAt: new Date(t0 + i * 1000),
      }),
    );
    for (const r of rows) s.deps.requestLog.record(r);
    await s.deps.requestLog.flush();

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/api/requests?model=page-test&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await get(bob.apiKey, q)).json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((r: { id: string }) => r.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(rows.map((r) => r.id).reverse());

    const errors = (await get(bob.apiKey, '/api/requests?model=page-test&status=error')).json();
    expect(errors.items.map((r: { id: string }) => r.id)).toEqual([rows[3]?.id, rows[1]?.id]);

    const from = new Date(t0 + 1000).toISOString();
    const to = new Date(t0 + 3000).toISOString();
    const ranged = (
      await get(bob.apiKey, `/api/requests?model=page-test&from=${from}&to=${to}`)
    ).json();
    expect(ranged.items.map((r: { id: string }) => r.id)).toEqual([rows[2]?.id, rows[1]?.id]);
  });

  it('filters by key', async () => {
    const second = await createTestUser(s.testDb.db);
    const viaKey = entry(second, { model: 'key-filter' });
    const viaLogin = entry(second, { model: 'key-filter', keyId: null });
    s.deps.requestLog.record(viaKey);
    s.deps.requestLog.record(viaLogin);
    await s.deps.requestLog.flush();
    const res = await get(second.apiKey, `/api/requests?keyId=${second.apiKeyId}`);
    expect(res.json().items.map((r: { id: string }) => r.id)).toEqual([viaKey.id]);
    const all = await get(second.apiKey, '/api/requests?model=key-filter');
    expect(all.json().items).toHaveLength(2);
  });

  it('refuses a bad filter or cursor with 400', async () => {
    expect((await get(alice.apiKey, '/api/requests?status=weird')).statusCode).toBe(400);
    expect((await get(alice.apiKey, '/api/requests?keyId=not-a-uuid')).statusCode).toBe(400);
    expect((await get(alice.apiKey, '/api/requests?cursor=garbage')).statusCode).toBe(400);
    expect((await get(alice.apiKey, '/api/requests?limit=501')).statusCode).toBe(400);
  });

  it('needs credentials and the read scope', async () => {
    expect((await s.app.inject({ method: 'GET', url: '/api/requests' })).statusCode).toBe(401);
    const gatewayOnly = await createTestUser(s.testDb.db, { scopes: ['gateway'] });
    expect((await get(gatewayOnly.apiKey, '/api/requests')).statusCode).toBe(403);
  });
});

describe('bodies and partitions', () => {
  it('drops bodies for a key with log_bodies=false', async () => {
    await s.testDb.db
      .updateTable('api_keys')
      .set({ log_bodies: false })
      .where('id', '=', bob.apiKeyId)
      .execute();
    const quiet = entry(bob, { bodies: { request: { secret: 'prompt' }, response: 'answer' } });
    const loud = entry(alice, { bodies: { request: { hello: 'x' }, response: 'y' } });
    s.deps.requestLog.record(quiet);
    s.deps.requestLog.record(loud);
    await s.deps.requestLog.flush();
    expect((await get(bob.apiKey, `/api/requests/${quiet.id}`)).json().bodies).toBeNull();
    expect((await get(alice.apiKey, `/api/requests/${loud.id}`)).json().bodies).toEqual({
      request: { hello: 'x' },
      response: 'y',
    });
  });

  it('maintenance creates next months partitions idempotently', async () => {
    const clock = { now: () => new Date(Date.UTC(2031, 5, 15)) };
    const first = await maintainRequestLog({ ...s.deps, clock }, 2);
    // Three months of request_logs and of request_bodies.
    expect(first.partitionsCreated).toBe(6);
    const again = await maintainRequestLog({ ...s.deps, clock }, 2);
    expect(again.partitionsCreated).toBe(0);
    const parts = await sql<{ name: string }>`
      select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'request_logs'::regclass and c.relname like 'request_logs_2031%'
      order by 1`.execute(s.testDb.db);
    expect(parts.rows.map((r) => r.name)).toEqual([
      'request_logs_2031_06',
      'request_logs_2031_07',
      'request_logs_2031_08',
    ]);
  });
});
