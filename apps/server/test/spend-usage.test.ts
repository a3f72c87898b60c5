import { rollupUsage, type UsageSummary, usageSummary } from '@tollgate/core';
import { createTestUser, type TestUser, testLogEntry } from '@tollgate/core/testing';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;
let member: TestUser;
let other: TestUser;
let admin: TestUser;

// Around the spring-forward of 2026 in Europe/Berlin: 29 March has 23 hours (02:00 CET → 03:00 CEST).
const times = [
  '2026-03-28T22:59:00Z', // 28 Mar 23:59 CET
  '2026-03-28T23:00:00Z', // 29 Mar 00:00 CET
  '2026-03-29T00:59:59Z', // 29 Mar 01:59:59 CET
  '2026-03-29T01:00:00Z', // 29 Mar 03:00 CEST (02:00–03:00 does not exist)
  '2026-03-29T10:15:00Z', // 29 Mar 12:15 CEST
  '2026-03-29T21:59:59Z', // 29 Mar 23:59:59 CEST
  '2026-03-29T22:00:00Z', // 30 Mar 00:00 CEST
  '2026-03-30T12:00:00Z', // 30 Mar 14:00 CEST
];

beforeAll(async () => {
  s = await startTestServer();
  member = await createTestUser(s.testDb.db);
  other = await createTestUser(s.testDb.db);
  admin = await createTestUser(s.testDb.db, { role: 'admin' });
  times.forEach((t, i) => {
    s.deps.requestLog.record(
      testLogEntry(member, {
        createdAt: new Date(t),
        model: i % 2 === 0 ? 'mock-echo' : 'mock-slow',
        status: i === 3 ? 'error' : 'ok',
        usage: {
          inputTokens: 10 + i,
          cachedInputTokens: 0,
          cacheWriteTokens: 0,
          outputTokens: 5 * i,
          reasoningTokens: 0,
        },
      }),
    );
  });
  // An unpriced call and a refusal, and someone else's call the member must not see.
  s.deps.requestLog.record(
    testLogEntry(member, {
      createdAt: new Date('2026-03-29T10:30:00Z'),
      prices: { input: null, output: null, cachedInput: null, cacheWrite: null },
    }),
  );
  s.deps.requestLog.record(
    testLogEntry(member, {
      createdAt: new Date('2026-03-29T10:31:00Z'),
      status: 'rejected',
      errorCode: 'budget_exceeded',
    }),
  );
  s.deps.requestLog.record(testLogEntry(other, { createdAt: new Date('2026-03-29T10:00:00Z') }));
  await s.deps.requestLog.flush();
});
afterAll(() => closeTestServer(s));

const range = { from: '2026-03-28', to: '2026-03-30', tz: 'Europe/Berlin' } as const;

async function rest(path: string, key: string) {
  const res = await s.app.inject({
    method: 'GET',
    url: path,
    headers: { authorization: `Bearer ${key}` },
  });
  return res;
}

describe('usage analytics', () => {
  it('cuts days at local midnight across the DST change (a 23-hour day)', async () => {
    const r = await rest(
      `/api/usage?from=${range.from}&to=${range.to}&groupBy=day&tz=Europe/Berlin`,
      member.apiKey,
    );
    expect(r.statusCode).toBe(200);
    const body = r.json() as UsageSummary;
    expect(body.from).toBe('2026-03-27T23:00:00.000Z');
    expect(body.to).toBe('2026-03-30T22:00:00.000Z');
    expect(body.items.map((i) => [i.group, i.requests])).toEqual([
      ['2026-03-28', 1],
      ['2026-03-29', 7],
      ['2026-03-30', 2],
    ]);
    const day29 = body.items[1];
    expect(day29).toMatchObject({ errors: 1, rejected: 1, unpricedRequests: 1 });
    // Priced calls of the 29th: i = 1..5 → (10+i) input at $1 + 5i output at $2 per MTok, plus
    // the rejected call at 0 and the unpriced one counted apart.
    const expected = [1, 2, 3, 4, 5].reduce((a, i) => a + (10 + i) + 2 * 5 * i, 0) / 1e6;
    expect(Number(day29?.costUsd)).toBeCloseTo(expected, 12);
    expect(body.totals.requests).toBe(10);
  });

  it('groups by local hour: the hour that does not exist on the DST day has no group', async () => {
    const r = await rest(
      `/api/usage?from=${range.from}&to=${range.to}&groupBy=hour&tz=Europe/Berlin`,
      member.apiKey,
    );
    expect(r.statusCode).toBe(200);
    const body = r.json() as UsageSummary;
    expect(body.items.map((i) => [i.group, i.requests])).toEqual([
      ['2026-03-28T23:00', 1],
      ['2026-03-29T00:00', 1],
      ['2026-03-29T01:00', 1],
      ['2026-03-29T03:00', 1], // 01:00Z is 03:00 CEST: 02:00 was skipped
      ['2026-03-29T12:00', 3], // 10:15Z, and the unpriced and the rejected call at 10:30Z/10:31Z
      ['2026-03-29T23:00', 1],
      ['2026-03-30T00:00', 1],
      ['2026-03-30T14:00', 1],
    ]);
    expect(body.totals.requests).toBe(10);
    // 5:30 off UTC, a local hour cuts through a UTC hour: 10:15Z is 15:45, 10:30Z is 16:00.
    const kolkata = await usageSummary(s.deps, member.principal, {
      ...range,
      tz: 'Asia/Kolkata',
      groupBy: 'hour',
    });
    const at = (group: string) => kolkata.items.find((i) => i.group === group)?.requests;
    expect([at('2026-03-29T15:00'), at('2026-03-29T16:00')]).toEqual([1, 2]);
  });

  it('members see their own calls; admins everyone’s', async () => {
    const mine = await usageSummary(s.deps, member.principal, { ...range, groupBy: 'user' });
    expect(mine.items.map((i) => i.group)).toEqual([member.id]);
    const all = await usageSummary(s.deps, admin.principal, { ...range, groupBy: 'user' });
    expect(all.items.map((i) => i.group).sort()).toEqual([member.id, other.id].sort());
  });

  it('rollups + raw rows equal the raw rows alone, at any watermark and in any zone', async () => {
    const groupings = ['hour', 'day', 'model', 'key', 'user'] as const;
    const zones = ['Europe/Berlin', 'UTC', 'Asia/Kolkata', 'America/St_Johns'];
    const snapshot = async () => {
      const out: UsageSummary[] = [];
      for (const tz of zones) {
        for (const groupBy of groupings) {
          out.push(await usageSummary(s.deps, admin.principal, { ...range, tz, groupBy }));
        }
      }
      return out;
    };
    const raw = await snapshot();
    // Roll up to the middle of the DST day, then to now: the answers never change.
    const midDay = await rollupUsage(
      { db: s.deps.db, clock: { now: () => new Date('2026-03-29T12:20:00Z') } },
      { lagMs: 0 },
    );
    expect(midDay.watermark?.toISOString()).toBe('2026-03-29T12:00:00.000Z');
    const rolled = await s.testDb.db.selectFrom('usage_hourly').selectAll().execute();
    expect(rolled.length).toBeGreaterThan(3);
    expect(await snapshot()).toEqual(raw);
    await rollupUsage(s.deps, { lagMs: 0 });
    expect(await snapshot()).toEqual(raw);
  });

  it('GET /api/usage.csv streams RFC 4180 CSV equal to the summary when parsed back', async () => {
    const q = `from=${range.from}&to=${range.to}&groupBy=model&tz=Europe/Berlin`;
    const summary = (await rest(`/api/usage?${q}`, member.apiKey)).json() as UsageSummary;
    const res = await rest(`/api/usage.csv?${q}`, member.apiKey);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.body).toContain('\r\n');
    const records = parse(res.body, { columns: true, cast: false }) as Record<string, string>[];
    expect(records).toEqual(
      summary.items.map((i) =>
        Object.fromEntries(Object.entries(i).map(([k, v]) => [k, String(v)])),
      ),
    );
    expect(records.map((r) => r.group)).toEqual(['mock-echo', 'mock-slow']);
    // Described in /openapi.json beside usage.summary.
    const doc = (await s.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, { get?: { responses: Record<string, { content?: object }> } }>;
    };
    expect(doc.paths['/usage.csv']?.get?.responses['200']?.content).toHaveProperty('text/csv');
  });

  it('a model name with a comma and a quote survives the CSV round trip', async () => {
    const odd = await createTestUser(s.testDb.db);
    // Now, not in March: hours already rolled up take no late rows (docs/spend.md, the lag).
    s.deps.requestLog.record(testLogEntry(odd, { model: 'we"ird, model' }));
    await s.deps.requestLog.flush();
    const day = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10);
    const q = new URLSearchParams({ from: day(-1), to: day(1), groupBy: 'model' });
    const res = await rest(`/api/usage.csv?${q}`, odd.apiKey);
    const records = parse(res.body, { columns: true }) as Record<string, string>[];
    expect(records.map((r) => r.group)).toEqual(['we"ird, model']);
    expect(res.body).toContain('"we""ird, model"');
  });

  it('bad input: 400 in the REST shape, for the summary and the CSV', async () => {
    const badTz = await rest(
      `/api/usage.csv?from=2026-03-01&to=2026-03-02&tz=Mars/Base`,
      member.apiKey,
    );
    expect(badTz.statusCode).toBe(400);
    expect(badTz.json()).toMatchObject({ error: { code: 'bad_request' } });
    const backwards = await rest(`/api/usage?from=2026-03-05&to=2026-03-01`, member.apiKey);
    expect(backwards.statusCode).toBe(400);
    expect(backwards.json().error.message).toMatch(/after/);
    const noAuth = await s.app.inject({
      method: 'GET',
      url: `/api/usage.csv?from=2026-03-01&to=2026-03-02`,
    });
    expect(noAuth.statusCode).toBe(401);
    const missing = await rest(`/api/usage.csv?to=2026-03-02`, member.apiKey);
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.code).toBe('bad_request');
  });
});
