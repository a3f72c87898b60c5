import { randomUUID } from 'node:crypto';
import { seedModels } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;
let member: TestUser;

beforeAll(async () => {
  s = await startTestServer();
  await seedModels(s.deps);
  member = await createTestUser(s.testDb.db);
});
afterAll(() => closeTestServer(s));

const messages = [{ role: 'user', content: 'which surface?' }];

async function call(url: string, payload: unknown): Promise<string> {
  const requestId = `req-${randomUUID()}`;
  const res = await s.app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${member.apiKey}`, 'x-request-id': requestId },
    payload: payload as Record<string, unknown>,
  });
  expect(res.statusCode).toBe(200);
  return requestId;
}

async function surfaceOf(requestId: string): Promise<unknown> {
  await s.deps.requestLog.flush();
  const list = await s.app.inject({
    method: 'GET',
    url: '/api/requests?limit=500',
    headers: { authorization: `Bearer ${member.apiKey}` },
  });
  expect(list.statusCode).toBe(200);
  const rows = (list.json() as { items: { requestId: string; surface: unknown }[] }).items;
  const mine = rows.filter((r) => r.requestId === requestId);
  expect(mine).toHaveLength(1);
  return mine[0]?.surface;
}

describe('request-log surface', () => {
  it('labels /api calls rest, /trpc calls trpc and /v1 calls by their wire format', async () => {
    const chat = { model: 'mock-echo', messages };
    const rest = await call('/api/chat/completions', chat);
    const restEmbed = await call('/api/embeddings', { model: 'mock-embed', input: 'x' });
    const trpc = await call('/trpc/chat.complete', chat);
    const trpcEmbed = await call('/trpc/embeddings.create', { model: 'mock-embed', input: 'x' });
    const openai = await call('/v1/chat/completions', chat);
    const anthropic = await call('/v1/messages', { ...chat, max_tokens: 16 });

    expect(await surfaceOf(rest)).toBe('rest');
    expect(await surfaceOf(restEmbed)).toBe('rest');
    expect(await surfaceOf(trpc)).toBe('trpc');
    expect(await surfaceOf(trpcEmbed)).toBe('trpc');
    expect(await surfaceOf(openai)).toBe('openai');
    expect(await surfaceOf(anthropic)).toBe('anthropic');
  });

  it('requests.get carries the surface too', async () => {
    const rest = await call('/api/chat/completions', { model: 'mock-echo', messages });
    await s.deps.requestLog.flush();
    const row = await s.testDb.db
      .selectFrom('request_logs')
      .select(['id', 'surface'])
      .where('request_id', '=', rest)
      .executeTakeFirstOrThrow();
    expect(row.surface).toBe('rest');
    const res = await s.app.inject({
      method: 'GET',
      url: `/api/requests/${row.id}`,
      headers: { authorization: `Bearer ${member.apiKey}` },
    });
    expect(res.json()).toMatchObject({ requestId: rest, surface: 'rest' });
  });
});
