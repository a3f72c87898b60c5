import { maintainRequestLog, type RequestLogEntry } from '@tollgate/core';
import { createTestUser, type TestUser, testLogEntry } from '@tollgate/core/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;
let alice: TestUser;

// Far from the real date so the migration's own partitions never mix with these.
const now = new Date(Date.UTC(2031, 5, 15, 12)); // 2031-06-15
const clock = { now: () => now };

const entry = (createdAt: Date, bodies?: RequestLogEntry['bodies']): RequestLogEntry =>
  testLogEntry(alice, { createdAt, ...(bodies ? { bodies } : {}) });

async function partitions2031(): Promise<string[]> {
  const r = await sql<{ name: string }>`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'request_logs'::regclass and c.relname like 'request_logs_2031%'
    order by 1`.execute(s.testDb.db);
  return r.rows.map((x) => x.name);
}

async function status(id: string): Promise<number> {
  const res = await s.app.inject({
    method: 'GET',
    url: `/api/requests/${id}`,
    headers: { authorization: `Bearer ${alice.apiKey}` },
  });
  return res.statusCode;
}

beforeAll(async () => {
  s = await startTestServer({ LOG_RETENTION_DAYS: '90' });
  alice = await createTestUser(s.testDb.db, { email: 'alice@example.com' });
});
afterAll(() => closeTestServer(s));

describe('request-log retention (LOG_RETENTION_DAYS)', () => {
  it('drops whole partitions older than the retention and old bodies; keeps the rest', async () => {
    const body = { request: { messages: [{ role: 'user', content: 'hi' }] }, response: 'hi' };
    const jan = entry(new Date(Date.UTC(2031, 0, 20)), body); // partition ends 2031-02-01
    const feb = entry(new Date(Date.UTC(2031, 1, 27)), body); // ends 2031-03-01
    // 2031-03 ends 2031-04-01, after the cutoff (2031-03-17): kept whole, row and all.
    const earlyMar = entry(new Date(Date.UTC(2031, 2, 2)), body);
    const lateMar = entry(new Date(Date.UTC(2031, 2, 30)), body);
    const june = entry(new Date(Date.UTC(2031, 5, 14)), body);
    for (const e of [jan, feb, earlyMar, lateMar, june]) s.deps.requestLog.record(e);
    await s.deps.requestLog.flush();
    // Bodies are written with the log's createdAt; the cutoff applies to them row by row.
    for (const e of [jan, feb, earlyMar, lateMar, june]) {
      await s.testDb.db
        .updateTable('request_bodies')
        .set({ created_at: e.createdAt })
        .where('log_id', '=', e.id)
        .execute();
    }
    expect(await partitions2031()).toEqual(
      expect.arrayContaining([
        'request_logs_2031_01',
        'request_logs_2031_02',
        'request_logs_2031_06',
      ]),
    );
    expect(await status(jan.id)).toBe(200);

    const r = await maintainRequestLog({ ...s.deps, clock });
    expect(r.partitionsDropped.filter((n) => n.startsWith('request_logs_2031'))).toEqual([
      'request_logs_2031_01',
      'request_logs_2031_02',
    ]);
    expect(await partitions2031()).toEqual([
      'request_logs_2031_03',
      'request_logs_2031_04',
      'request_logs_2031_05',
      'request_logs_2031_06',
      'request_logs_2031_07',
      'request_logs_2031_08',
    ]);

    expect(await status(jan.id)).toBe(404);
    expect(await status(feb.id)).toBe(404);
    expect(await status(earlyMar.id)).toBe(200);
    expect(await status(june.id)).toBe(200);

    const bodies = await s.testDb.db.selectFrom('request_bodies').select('log_id').execute();
    const kept = new Set(bodies.map((b) => b.log_id));
    expect([jan, feb, earlyMar, lateMar, june].map((e) => kept.has(e.id))).toEqual([
      false,
      false,
      false, // 2031-03-02 is older than the cutoff: bodies go row by row
      true,
      true,
    ]);
    // January's and February's bodies went with their partitions; early March's row by row.
    expect(r.partitionsDropped.filter((n) => n.startsWith('request_bodies_2031'))).toEqual([
      'request_bodies_2031_01',
      'request_bodies_2031_02',
    ]);
    expect(r.bodiesDeleted).toBeGreaterThanOrEqual(1);

    // Idempotent: a second run the same day drops nothing more.
    const again = await maintainRequestLog({ ...s.deps, clock });
    expect(again.partitionsDropped).toEqual([]);
    expect(again.bodiesDeleted).toBe(0);
  });

  it('a longer LOG_RETENTION_DAYS keeps partitions a shorter one would drop', async () => {
    const old = entry(new Date(Date.UTC(2031, 2, 5))); // in 2031-03, ends 2031-04-01
    s.deps.requestLog.record(old);
    await s.deps.requestLog.flush();
    const config = { ...s.deps.config, logRetentionDays: 365 };
    const kept = await maintainRequestLog({ ...s.deps, config, clock });
    expect(kept.partitionsDropped).toEqual([]);
    expect(await status(old.id)).toBe(200);

    // 60 days before 2031-06-15 is 2031-04-16: March's partition now lies wholly before it.
    const short = { ...s.deps.config, logRetentionDays: 60 };
    const dropped = await maintainRequestLog({ ...s.deps, config: short, clock });
    expect(dropped.partitionsDropped).toEqual(['request_bodies_2031_03', 'request_logs_2031_03']);
    expect(await status(old.id)).toBe(404);
    expect(await partitions2031()).toContain('request_logs_2031_06');
  });
});
