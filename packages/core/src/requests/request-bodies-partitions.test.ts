import { createTestDb, type TestDb } from '@tollgate/test-kit';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../deps.ts';
import { createTestDeps, createTestUser, type TestUser, testLogEntry } from '../testing.ts';
import type { RequestLogEntry } from './request-log.writer.ts';
import { getRequest, maintainRequestLog } from './requests.service.ts';

let t: TestDb;
let deps: Deps;
let alice: TestUser;

const entry = (createdAt: Date): RequestLogEntry =>
  testLogEntry(alice, {
    createdAt,
    bodies: { request: { messages: [{ role: 'user', content: 'hi' }] }, response: 'hello' },
  });

const monthName = (table: string, d: Date) =>
  `${table}_${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;

async function partitionsOf(table: string, like: string): Promise<string[]> {
  const r = await sql<{ name: string }>`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = ${table}::regclass and c.relname like ${like}
    order by 1`.execute(t.db);
  return r.rows.map((x) => x.name);
}

beforeAll(async () => {
  t = await createTestDb();
  deps = createTestDeps(t.db, t.pool);
  alice = await createTestUser(t.db);
});
afterAll(async () => {
  await deps.auth.close();
  await deps.requestLog.close();
  await t.drop();
});

describe('request_bodies partitioned by month', () => {
  it('is a range-partitioned table whose primary key includes created_at', async () => {
    const r = await sql<{ strategy: string; keys: string }>`
      select partstrat as strategy, pg_get_partkeydef(partrelid) as keys
      from pg_partitioned_table where partrelid = 'request_bodies'::regclass`.execute(t.db);
    expect(r.rows).toEqual([{ strategy: 'r', keys: 'RANGE (created_at)' }]);
    const now = new Date();
    expect(await partitionsOf('request_bodies', monthName('request_bodies', now))).toEqual([
      monthName('request_bodies', now),
    ]);
  });

  it("a body written now lands in this month's partition; requests.get returns it", async () => {
    const e = entry(new Date());
    deps.requestLog.record(e);
    await deps.requestLog.flush();
    const r = await sql<{ part: string }>`
      select tableoid::regclass::text as part from request_bodies where log_id = ${e.id}`.execute(
      t.db,
    );
    expect(r.rows).toEqual([{ part: monthName('request_bodies', e.createdAt) }]);

    for (const id of [e.id, e.requestId]) {
      const got = await getRequest(deps, alice.principal, id);
      expect(got.id).toBe(e.id);
      expect(got.bodies).toEqual({
        request: { messages: [{ role: 'user', content: 'hi' }] },
        response: 'hello',
      });
    }
  });

  it("a row dated in a month nobody prepared gets both tables' partitions", async () => {
    const e = entry(new Date(Date.UTC(2035, 3, 9)));
    deps.requestLog.record(e);
    await deps.requestLog.flush();
    expect(await partitionsOf('request_bodies', 'request_bodies_2035%')).toEqual([
      'request_bodies_2035_04',
    ]);
    expect((await getRequest(deps, alice.principal, e.id)).bodies?.response).toBe('hello');
  });

  it("the maintenance job creates next months' partitions for both tables, idempotently", async () => {
    const clock = { now: () => new Date(Date.UTC(2033, 10, 20)) }; // 2033-11
    const first = await maintainRequestLog({ ...deps, clock }, 2);
    expect(first.partitionsCreated).toBe(6);
    const again = await maintainRequestLog({ ...deps, clock }, 2);
    expect(again.partitionsCreated).toBe(0);
    for (const table of ['request_logs', 'request_bodies']) {
      expect(await partitionsOf(table, `${table}_203%`)).toEqual(
        ['2033_11', '2033_12', '2034_01', '2035_04'].map((m) => `${table}_${m}`),
      );
    }
  });

  it('retention drops whole body partitions past the cutoff', async () => {
    // 90 days (the default) before 2034-03-15 is 2033-12-15: November's partitions lie wholly
    // before it, December's straddles it.
    const clock = { now: () => new Date(Date.UTC(2034, 2, 15)) };
    const r = await maintainRequestLog({ ...deps, clock }, 0);
    expect(r.partitionsDropped.filter((n) => n.includes('_2033_'))).toEqual([
      'request_bodies_2033_11',
      'request_logs_2033_11',
    ]);
    expect(await partitionsOf('request_bodies', 'request_bodies_203%')).toEqual([
      'request_bodies_2033_12',
      'request_bodies_2034_01',
      'request_bodies_2034_03',
      'request_bodies_2035_04',
    ]);
  });
});
