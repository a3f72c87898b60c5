import { createTestDb, type TestDb } from '@tollgate/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../deps.ts';
import { createTestDeps, createTestUser, type TestUser, testLogEntry } from '../testing.ts';
import { createRequestLogWriter, type RequestLogEntry } from './request-log.writer.ts';
import { getRequest } from './requests.service.ts';

let t: TestDb;
let deps: Deps;
let alice: TestUser;

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

const entry = (bodies: RequestLogEntry['bodies']): RequestLogEntry =>
  testLogEntry(alice, { bodies });

describe('request log bodies', () => {
  it('stores bodies exactly as given: unicode, quotes, backslashes, numbers', async () => {
    const w = createRequestLogWriter({ db: t.db, log: deps.log, intervalMs: 60_000 });
    const request = {
      messages: [{ role: 'user', content: 'caf\u00e9 \u{1F600} "quoted" \\ back' }],
    };
    const e = entry({ request, response: { content: 'ok', n: 1.5 } });
    w.record(e);
    await w.close();
    const got = await getRequest(deps, alice.principal, e.id);
    expect(got.bodies).toEqual({ request, response: { content: 'ok', n: 1.5 } });
  });

  it('rows recorded before a flush are in it, though they are serialized after the current I/O', async () => {
    const w = createRequestLogWriter({ db: t.db, log: deps.log, intervalMs: 60_000 });
    const e = entry({ request: { content: 'now' }, response: 'then' });
    w.record(e);
    expect(w.pending()).toBe(1);
    await w.flush();
    expect(w.pending()).toBe(0);
    expect((await getRequest(deps, alice.principal, e.id)).bodies).toEqual({
      request: { content: 'now' },
      response: 'then',
    });
    await w.close();
  });

  it('a body Postgres jsonb refuses (NUL, a lone surrogate) is stored with U+FFFD and does not fail its batch', async () => {
    const w = createRequestLogWriter({ db: t.db, log: deps.log, intervalMs: 60_000 });
    const bad = entry({ request: { content: 'a\u0000b \ud800 c' }, response: 'x\u0000' });
    const good = entry({ request: { content: 'fine' }, response: 'fine' });
    w.record(bad);
    w.record(good);
    await w.close();
    expect(w.pending()).toBe(0);
    expect((await getRequest(deps, alice.principal, bad.id)).bodies).toEqual({
      request: { content: 'a\uFFFDb \uFFFD c' },
      response: 'x\uFFFD',
    });
    expect((await getRequest(deps, alice.principal, good.id)).bodies).toEqual({
      request: { content: 'fine' },
      response: 'fine',
    });
  });
});

describe('request log writer', () => {
  it('keeps its buffer bounded and never blocks the caller', async () => {
    const w = createRequestLogWriter({
      db: t.db,
      log: deps.log,
      intervalMs: 60_000,
      maxBuffered: 2,
    });
    for (let i = 0; i < 3; i++) w.record(testLogEntry(alice));
    expect(w.pending()).toBe(2);
    await w.close();
    expect(w.pending()).toBe(0);
  });

  it('tells of every dropped row (createDeps counts them in tollgate_request_log_dropped_total)', async () => {
    let drops = 0;
    const w = createRequestLogWriter({
      db: t.db,
      log: deps.log,
      intervalMs: 60_000,
      maxBuffered: 2,
      onDrop: () => drops++,
    });
    for (let i = 0; i < 5; i++) w.record(testLogEntry(alice));
    expect(drops).toBe(3);
    await w.close();
  });

  it('rows arriving during a write wait for the next one: steady traffic makes few, large inserts', async () => {
    // Counts the log inserts this writer sends (a kysely plugin sees every query, raw ones too).
    let inserts = 0;
    const counted = t.db.withPlugin({
      transformQuery(args) {
        const node = args.node as { kind: string; sqlFragments?: readonly string[] };
        if (
          node.kind === 'RawNode' &&
          node.sqlFragments?.join('').includes('insert into request_logs')
        )
          inserts++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    const w = createRequestLogWriter({ db: counted, log: deps.log, intervalMs: 60_000 });
    w.record(testLogEntry(alice));
    w.record(testLogEntry(alice));
    const first = w.flush();
    // Requests keep arriving while that insert is on its way to Postgres.
    for (let i = 0; i < 3; i++) w.record(testLogEntry(alice));
    await first;
    expect(inserts).toBe(1);
    expect(w.pending()).toBe(3);
    await w.close();
    expect(inserts).toBe(2); // the three late rows in one insert, not one each
    expect(w.pending()).toBe(0);
  });
});
