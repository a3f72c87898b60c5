import { randomUUID } from 'node:crypto';
import { seedModels } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, requestLogRows, startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;
let member: TestUser;
let readOnly: TestUser;

beforeAll(async () => {
  s = await startTestServer();
  await seedModels(s.deps);
  member = await createTestUser(s.testDb.db);
  readOnly = await createTestUser(s.testDb.db, { scopes: ['read'] });
});
afterAll(() => closeTestServer(s));

const post = (url: string, key: string, payload: unknown, headers: Record<string, string> = {}) =>
  s.app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${key}`, ...headers },
    payload: payload as Record<string, unknown>,
  });

async function rowsFor(requestId: string) {
  await s.deps.requestLog.flush();
  return s.testDb.db
    .selectFrom('request_logs')
    .selectAll()
    .where('request_id', '=', requestId)
    .execute();
}

const rowCount = () => requestLogRows(s);

describe('POST /api/chat/completions', () => {
  it('answers through the catalog and records one priced row with bodies', async () => {
    const requestId = `req-${randomUUID()}`;
    const res = await post(
      '/api/chat/completions',
      member.apiKey,
      { model: 'mock-echo', messages: [{ role: 'user', content: 'Hello there, world!' }] },
      { 'x-request-id': requestId },
    );
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      requestId,
      model: 'mock-echo',
      provider: 'mock',
      content: 'Hello there, world!',
      finishReason: 'stop',
      toolCalls: [],
      cacheHit: false,
      usage: { inputTokens: 8, outputTokens: 5 },
    });

    const rows = await rowsFor(requestId);
    expect(rows).toHaveLength(1);
    const row = rows[0];
    expect(row).toMatchObject({
      user_id: member.id,
      key_id: member.apiKeyId,
      model: 'mock-echo',
      provider: 'mock',
      upstream_model: 'mock-echo',
      status: 'ok',
      error_code: null,
      input_tokens: 8,
      output_tokens: 5,
      usage_estimated: false,
    });
    // 8 × $1/M + 5 × $2/M = 0.000018, computed in SQL.
    expect(row?.cost_usd).toBe('0.0000180000');

    const detail = await s.app.inject({
      method: 'GET',
      url: `/api/requests/${requestId}`,
      headers: { authorization: `Bearer ${member.apiKey}` },
    });
    expect(detail.statusCode).toBe(200);
    expect(detail.json()).toMatchObject({
      requestId,
      costUsd: '0.000018',
      status: 'ok',
      bodies: {
        request: { model: 'mock-echo' },
        response: { content: 'Hello there, world!' },
      },
    });
  });

  it('resolves aliases to the catalog name', async () => {
    const put = await s.app.inject({
      method: 'PUT',
      url: '/api/models/echo-alias-host',
      headers: { authorization: `Bearer ${(await adminKey()).apiKey}` },
      payload: {
        provider: 'mock',
        upstreamModel: 'mock-echo',
        kind: 'chat',
        inputPricePerMTok: null,
        outputPricePerMTok: null,
        aliases: ['my-echo'],
      },
    });
    expect(put.statusCode).toBe(200);
    const res = await post('/api/chat/completions', member.apiKey, {
      model: 'my-echo',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().model).toBe('echo-alias-host');
    const rows = await rowsFor(res.json().requestId);
    // Unpriced: cost is null, never $0.
    expect(rows[0]?.cost_usd).toBeNull();
  });

  it('refuses an unknown model with 404 model_not_found and writes no row', async () => {
    const before = await rowCount();
    const res = await post('/api/chat/completions', member.apiKey, {
      model: 'no-such-model',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({
      error: { code: 'model_not_found', message: expect.stringContaining('no-such-model') },
    });
    expect(await rowCount()).toBe(before);
  });

  it('refuses a disabled model with 404 model_not_found and writes no row', async () => {
    const admin = await adminKey();
    const put = await s.app.inject({
      method: 'PUT',
      url: '/api/models/disabled-echo',
      headers: { authorization: `Bearer ${admin.apiKey}` },
      payload: {
        provider: 'mock',
        upstreamModel: 'mock-echo',
        kind: 'chat',
        inputPricePerMTok: '1',
        outputPricePerMTok: '2',
        enabled: false,
      },
    });
    expect(put.statusCode).toBe(200);
    const before = await rowCount();
    const res = await post('/api/chat/completions', member.apiKey, {
      model: 'disabled-echo',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('model_not_found');
    expect(await rowCount()).toBe(before);
  });

  it('refuses an embedding model for chat with 400', async () => {
    const res = await post('/api/chat/completions', member.apiKey, {
      model: 'mock-embed',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('bad_request');
  });

  it('refuses a malformed body with 400 and issues, and writes no row', async () => {
    const before = await rowCount();
    const res = await post('/api/chat/completions', member.apiKey, {
      model: 'mock-echo',
      messages: [{ role: 'wizard', content: 'hi' }],
      temperature: 7,
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error.code).toBe('bad_request');
    expect(body.error.issues.length).toBeGreaterThan(0);
    const invalidJson = await s.app.inject({
      method: 'POST',
      url: '/api/chat/completions',
      headers: { authorization: `Bearer ${member.apiKey}`, 'content-type': 'application/json' },
      payload: '{"model":',
    });
    expect(invalidJson.statusCode).toBe(400);
    expect(await rowCount()).toBe(before);
  });

  it('needs the gateway scope', async () => {
    const res = await post('/api/chat/completions', readOnly.apiKey, {
      model: 'mock-echo',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.statusCode).toBe(403);
  });
});

describe('POST /api/embeddings', () => {
  it('returns deterministic unit vectors and records input tokens', async () => {
    const res = await post('/api/embeddings', member.apiKey, {
      model: 'mock-embed',
      input: ['hello', 'world'],
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.model).toBe('mock-embed');
    expect(body.embeddings).toHaveLength(2);
    expect(body.embeddings[0]).toHaveLength(256);
    const rows = await rowsFor(body.requestId);
    expect(rows[0]).toMatchObject({ status: 'ok', input_tokens: body.usage.inputTokens });
  });

  it('refuses a chat model for embeddings with 400', async () => {
    const res = await post('/api/embeddings', member.apiKey, { model: 'mock-echo', input: 'x' });
    expect(res.statusCode).toBe(400);
  });
});

let admin: TestUser | undefined;
async function adminKey(): Promise<TestUser> {
  admin ??= await createTestUser(s.testDb.db, { role: 'admin' });
  return admin;
}
