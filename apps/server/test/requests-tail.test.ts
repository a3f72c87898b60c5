import { createTollgateClient } from '@tollgate/client';
import { createTestUser, type TestUser, testLogEntry } from '@tollgate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, listen, startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;
let url: string;
let member: TestUser;
let other: TestUser;

beforeAll(async () => {
  s = await startTestServer();
  url = await listen(s.app);
  member = await createTestUser(s.testDb.db);
  other = await createTestUser(s.testDb.db);
});
afterAll(() => closeTestServer(s));

/** Collects the tail's rows until `until` holds; rejects on a subscription error. */
function collect(
  apiKey: string,
  until: (ids: string[]) => boolean,
  input?: { status?: 'ok' | 'error' },
): Promise<string[]> {
  const client = createTollgateClient({ url, apiKey });
  const ids: string[] = [];
  return new Promise((resolve, reject) => {
    const sub = client.requests.tail.subscribe(input, {
      onData: (row) => {
        ids.push(row.id);
        if (until(ids)) {
          sub.unsubscribe();
          resolve(ids);
        }
      },
      onError: (e) => {
        sub.unsubscribe();
        reject(e);
      },
    });
  });
}

describe('requests.tail (live tail subscription)', () => {
  it('sends recent rows, then each new row once; only the caller’s own rows, filters applied', async () => {
    const before = testLogEntry(member);
    s.deps.requestLog.record(before);
    s.deps.requestLog.record(testLogEntry(other)); // not the member's: never sent to them
    await s.deps.requestLog.flush();

    // A row that started earlier but is written later (the writer's delay) is still sent.
    const late = testLogEntry(member, { createdAt: new Date(Date.now() - 5_000) });
    const failed = testLogEntry(member, { status: 'error', errorCode: 'upstream_error' });
    const seen = collect(member.apiKey, (ids) => ids.includes(late.id) && ids.includes(failed.id));
    const errorsOnly = collect(member.apiKey, (ids) => ids.includes(failed.id), {
      status: 'error',
    });
    await new Promise((r) => setTimeout(r, 300));
    s.deps.requestLog.record(late);
    s.deps.requestLog.record(failed);
    await s.deps.requestLog.flush();

    const ids = await seen;
    expect(ids[0]).toBe(before.id);
    expect(new Set(ids).size).toBe(ids.length); // each row once
    expect(ids.sort()).toEqual([before.id, late.id, failed.id].sort());
    expect(await errorsOnly).toEqual([failed.id]);
  });

  it('refuses a caller without the read scope', async () => {
    const gatewayOnly = await createTestUser(s.testDb.db, { scopes: ['gateway'] });
    await expect(collect(gatewayOnly.apiKey, () => true)).rejects.toMatchObject({
      data: { code: 'FORBIDDEN' },
    });
  });
});
