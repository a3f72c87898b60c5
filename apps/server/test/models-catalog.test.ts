import { mockModels, openaiModels, seedModels } from '@tollgate/core';
import { createTestDeps, createTestUser, type TestUser } from '@tollgate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;
let member: TestUser;
let admin: TestUser;

beforeAll(async () => {
  s = await startTestServer();
  member = await createTestUser(s.testDb.db);
  admin = await createTestUser(s.testDb.db, { role: 'admin' });
});
afterAll(() => closeTestServer(s));

const call = (method: 'GET' | 'PUT' | 'DELETE', url: string, key: string, payload?: unknown) =>
  s.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${key}` },
    ...(payload ? { payload: payload as Record<string, unknown> } : {}),
  });

async function allNames(key: string): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | null = null;
  do {
    const url: string = `/api/models?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = (await call('GET', url, key)).json();
    names.push(...page.items.map((m: { name: string }) => m.name));
    cursor = page.nextCursor;
  } while (cursor);
  return names;
}

describe('seed', () => {
  it('adds the mock models only, without a provider key, and is idempotent', async () => {
    expect(await seedModels(s.deps)).toBe(mockModels.length);
    expect(await seedModels(s.deps)).toBe(0);
    const names = await allNames(member.apiKey);
    expect(names.sort()).toEqual(['mock-echo', 'mock-embed', 'mock-slow']);
  });

  it('adds a configured provider models, keeping rows an admin edited', async () => {
    const edited = await call('PUT', '/api/models/gpt-4o-mini', admin.apiKey, {
      provider: 'openai',
      upstreamModel: 'gpt-4o-mini',
      kind: 'chat',
      inputPricePerMTok: '0.1',
      outputPricePerMTok: '0.5',
    });
    expect(edited.statusCode).toBe(200);
    const withOpenAI = createTestDeps(s.testDb.db, s.testDb.pool, {
      env: { OPENAI_API_KEY: 'sk-x' },
    });
    expect(await seedModels(withOpenAI)).toBe(openaiModels.length - 1);
    await withOpenAI.requestLog.close();
    const list = (await call('GET', '/api/models?limit=500', member.apiKey)).json();
    const mini = list.items.find((m: { name: string }) => m.name === 'gpt-4o-mini');
    expect(mini.inputPricePerMTok).toBe('0.1');
    const gpt4o = list.items.find((m: { name: string }) => m.name === 'gpt-4o');
    expect(gpt4o).toMatchObject({
      provider: 'openai',
      kind: 'chat',
      inputPricePerMTok: '2.5',
      outputPricePerMTok: '10',
      cachedInputPricePerMTok: '1.25',
    });
  });
});

describe('models.upsert and models.delete', () => {
  const entry = {
    provider: 'mock',
    upstreamModel: 'mock-echo',
    kind: 'chat',
    inputPricePerMTok: '0.15',
    outputPricePerMTok: null,
    contextWindow: 8000,
    aliases: ['house-alias'],
    fallbacks: ['mock-slow'],
  };

  it('creates and replaces an entry (admin), prices as decimal strings, null = unpriced', async () => {
    const res = await call('PUT', '/api/models/house-model', admin.apiKey, entry);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      name: 'house-model',
      inputPricePerMTok: '0.15',
      outputPricePerMTok: null,
      cachedInputPricePerMTok: null,
      enabled: true,
      aliases: ['house-alias'],
      fallbacks: ['mock-slow'],
    });
    const again = await call('PUT', '/api/models/house-model', admin.apiKey, {
      ...entry,
      inputPricePerMTok: 2,
      enabled: false,
    });
    expect(again.json()).toMatchObject({ inputPricePerMTok: '2', enabled: false });
  });

  it('refuses members with 403 and bad input with 400', async () => {
    expect((await call('PUT', '/api/models/x-model', member.apiKey, entry)).statusCode).toBe(403);
    expect((await call('DELETE', '/api/models/house-model', member.apiKey)).statusCode).toBe(403);
    const bad = await call('PUT', '/api/models/x-model', admin.apiKey, {
      ...entry,
      inputPricePerMTok: '-1',
      kind: 'image',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.issues.length).toBeGreaterThan(0);
  });

  it('refuses an alias that another model already uses with 409', async () => {
    const res = await call('PUT', '/api/models/other-model', admin.apiKey, {
      ...entry,
      aliases: ['house-alias'],
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('conflict');
  });

  it('deletes (admin); a missing model is 404', async () => {
    expect((await call('DELETE', '/api/models/house-model', admin.apiKey)).statusCode).toBe(200);
    expect((await call('DELETE', '/api/models/house-model', admin.apiKey)).statusCode).toBe(404);
    expect(await allNames(member.apiKey)).not.toContain('house-model');
  });
});
