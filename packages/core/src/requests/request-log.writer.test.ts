import { randomUUID } from 'node:crypto';
import { createTestDb, type TestDb } from '@tollgate/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../deps.ts';
import { createTestDeps, createTestUser, type TestUser } from '../testing.ts';
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

function entry(bodies: RequestLogEntry['bodies']): RequestLogEntry {
  return {
    id: randomUUID(),
    requestId: `req-${randomUUID()}`,
    userId: alice.id,
    keyId: alice.apiKeyId,
    batchItemId: null,
    model: 'mock-echo',
    provider: 'mock',
    upstreamModel: 'mock-echo',
    status: 'ok',
    errorCode: null,
    latencyMs: 5,
    ttftMs: null,
    usage: {
      inputTokens: 1,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 1,
      reasoningTokens: 0,
    },
    usageEstimated: false,
    cacheHit: false,
    createdAt: new Date(),
    prices: { input: '1', output: '2', cachedInput: null, cacheWrite: null },
    bodies,
  };
}

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
