import { loadConfig } from '@tollgate/config';
import { seedModels } from '@tollgate/core';
import { createTestDeps, createTestUser, type TestUser } from '@tollgate/core/testing';
import { createLogger } from '@tollgate/telemetry';
import { createTestDb } from '@tollgate/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../src/app.ts';
import { closeTestServer, type TestServer } from './helpers.ts';
import { parseSamples, sampleValue } from './metrics-text.ts';

// A streamed call is one request: one `"msg":"request"` line, one histogram observation.
let s: TestServer;
let member: TestUser;
const lines: string[] = [];

beforeAll(async () => {
  const testDb = await createTestDb();
  const config = loadConfig({ LOG_LEVEL: 'info', TOLLGATE_SECRET: 'x'.repeat(40) });
  const deps = {
    ...createTestDeps(testDb.db, testDb.pool, { config }),
    log: createLogger(config, { write: (l: string) => void lines.push(l) }),
  };
  s = { app: await buildServer(deps), testDb, deps };
  member = await createTestUser(s.testDb.db);
  await seedModels(s.deps);
});
afterAll(() => closeTestServer(s));

const HTTP = 'tollgate_http_request_duration_seconds_count';

async function count(route: string): Promise<number> {
  const samples = parseSamples((await s.app.inject({ method: 'GET', url: '/metrics' })).body);
  return sampleValue(samples, HTTP, { route, method: 'POST', status: '200' }) ?? 0;
}

function requestLines(reqId: string): unknown[] {
  return lines
    .map((l) => JSON.parse(l) as { msg?: string; reqId?: string })
    .filter((l) => l.msg === 'request' && l.reqId === reqId);
}

describe('streamed calls are logged and counted once', () => {
  for (const [route, body] of [
    ['/v1/chat/completions', { model: 'mock-echo', stream: true }],
    ['/v1/messages', { model: 'mock-echo', stream: true, max_tokens: 16 }],
  ] as const) {
    it(route, async () => {
      const before = await count(route);
      const reqId = `stream-once-${route.replaceAll('/', '-')}`;
      const res = await s.app.inject({
        method: 'POST',
        url: route,
        headers: { authorization: `Bearer ${member.apiKey}`, 'x-request-id': reqId },
        payload: { messages: [{ role: 'user', content: 'one two three' }], ...body },
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/event-stream');
      expect(await count(route)).toBe(before + 1);
      const logged = requestLines(reqId);
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ status: 200, route, stream: true, model: 'mock-echo' });
    });
  }
});
