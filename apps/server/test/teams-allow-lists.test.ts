import { randomUUID } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { createTollgateClient } from '@tollgate/client';
import { upsertModel } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CompatEnv, sdkClients, startCompatEnv } from './compat-fixtures.ts';
import { api, type Json } from './identity-helpers.ts';

// Allow-lists (PRODUCT.md: `allowedModels` per key and per team, names or aliases, empty = all;
// a model outside them → 403 model_not_allowed in the surface's shape; /v1/models lists only
// what the caller may use). Key ∩ team is checked on every surface.

let env: CompatEnv;
let admin: TestUser;
let member: TestUser;
let teamId: string;
/** In the team, own list ['echo-two', 'mock-slow']: with the team's, only echo-two. */
let narrowKey: string;
/** In the team, no own list: the team's mock-echo and echo-two (by its alias). */
let teamKey: string;
/** No team, own list ['mock-echo']. */
let personalKey: string;

const CHAT = 'POST /v1/chat/completions';
const msgs = [{ role: 'user' as const, content: 'allowed?' }];

async function newKey(token: string, body: Json): Promise<string> {
  const r = await api(env.s.app, 'POST', '/api/keys', { token, body });
  expect(r.status).toBe(200);
  return r.body.key as string;
}

beforeAll(async () => {
  env = await startCompatEnv();
  const priced = { inputPricePerMTok: '1', outputPricePerMTok: '2' };
  await upsertModel(env.s.deps, {
    name: 'echo-two',
    provider: 'mock',
    upstreamModel: 'mock-echo',
    kind: 'chat',
    aliases: ['echo-alias'],
    ...priced,
  });
  await upsertModel(env.s.deps, {
    name: 'fb-second',
    provider: 'openai',
    upstreamModel: 'gpt-second',
    kind: 'chat',
    ...priced,
  });
  await upsertModel(env.s.deps, {
    name: 'fb-primary',
    provider: 'openai',
    upstreamModel: 'gpt-primary',
    kind: 'chat',
    fallbacks: ['fb-second'],
    ...priced,
  });
  admin = await createTestUser(env.s.testDb.db, { role: 'admin' });
  member = await createTestUser(env.s.testDb.db);
  const team = await api(env.s.app, 'POST', '/api/teams', {
    token: admin.apiKey,
    body: { name: 'allow-team', allowedModels: ['mock-echo', 'echo-alias', 'fb-primary'] },
  });
  expect(team.status).toBe(200);
  teamId = team.body.id as string;
  const add = await api(env.s.app, 'POST', `/api/teams/${teamId}/members`, {
    token: admin.apiKey,
    body: { userId: member.id, role: 'member' },
  });
  expect(add.status).toBe(200);
  narrowKey = await newKey(member.apiKey, {
    name: 'narrow',
    teamId,
    allowedModels: ['echo-two', 'mock-slow'],
  });
  teamKey = await newKey(member.apiKey, { name: 'team', teamId });
  personalKey = await newKey(member.apiKey, { name: 'personal', allowedModels: ['mock-echo'] });
});
beforeEach(() => env.fake.reset());
afterAll(() => env.close());

async function openaiStatus(key: string, model: string): Promise<unknown> {
  const { openai } = sdkClients(env.url, key);
  try {
    const r = await openai.chat.completions.create({ model, messages: msgs });
    return { status: 200, model: r.model };
  } catch (e) {
    if (!(e instanceof OpenAI.APIError)) throw e;
    return { status: e.status, code: e.code, type: e.type };
  }
}

describe('allow-lists: key ∩ team, names or aliases', () => {
  it('admits only the intersection of the key and team lists on /v1/chat/completions', async () => {
    const denied = { status: 403, code: 'model_not_allowed', type: 'permission_error' };
    // In the team's list, not the key's.
    expect(await openaiStatus(narrowKey, 'mock-echo')).toEqual(denied);
    // In the key's list, not the team's.
    expect(await openaiStatus(narrowKey, 'mock-slow')).toEqual(denied);
    // In both (the team names it by alias), called by name and by alias.
    expect(await openaiStatus(narrowKey, 'echo-two')).toEqual({ status: 200, model: 'echo-two' });
    expect(await openaiStatus(narrowKey, 'echo-alias')).toEqual({ status: 200, model: 'echo-two' });
    // The team's list alone.
    expect(await openaiStatus(teamKey, 'mock-echo')).toEqual({ status: 200, model: 'mock-echo' });
    expect(await openaiStatus(teamKey, 'mock-slow')).toEqual(denied);
    // A key's own list without a team.
    expect(await openaiStatus(personalKey, 'mock-echo')).toEqual({
      status: 200,
      model: 'mock-echo',
    });
    expect(await openaiStatus(personalKey, 'echo-two')).toEqual(denied);
    // No list anywhere: everything.
    expect(await openaiStatus(member.apiKey, 'mock-slow')).toEqual({
      status: 200,
      model: 'mock-slow',
    });
  });

  it('refuses in OpenAI shape for streams and embeddings too, before anything upstream', async () => {
    const { openai } = sdkClients(env.url, narrowKey);
    const stream = await openai.chat.completions
      .create({ model: 'mock-echo', messages: msgs, stream: true })
      .then(() => null)
      .catch((e: unknown) => e);
    expect(stream).toBeInstanceOf(OpenAI.APIError);
    expect(stream).toMatchObject({ status: 403, code: 'model_not_allowed' });
    const embed = await openai.embeddings
      .create({ model: 'mock-embed', input: 'x' })
      .then(() => null)
      .catch((e: unknown) => e);
    expect(embed).toMatchObject({ status: 403, code: 'model_not_allowed', param: 'model' });
    const raw = await fetch(`${env.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${narrowKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'oa-mini', messages: msgs }),
    });
    expect(raw.status).toBe(403);
    expect(await raw.json()).toEqual({
      error: {
        message: expect.stringContaining('oa-mini'),
        type: 'permission_error',
        param: 'model',
        code: 'model_not_allowed',
      },
    });
    expect(env.fake.requests(CHAT)).toHaveLength(0);
  });

  it('refuses in Anthropic shape on /v1/messages (SDK and raw)', async () => {
    const { anthropic } = sdkClients(env.url, narrowKey);
    const err = await anthropic.messages
      .create({ model: 'mock-echo', max_tokens: 16, messages: msgs })
      .then(() => null)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err).toMatchObject({ status: 403 });
    const raw = await fetch(`${env.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': narrowKey, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock-slow', max_tokens: 16, messages: msgs }),
    });
    expect(raw.status).toBe(403);
    const body = (await raw.json()) as { type: string; error: { type: string; message: string } };
    expect(body).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    expect(body.error.message).toContain('not allowed');
    const ok = await anthropic.messages.create({
      model: 'echo-alias',
      max_tokens: 16,
      messages: msgs,
    });
    expect(ok.content[0]).toMatchObject({ type: 'text', text: 'allowed?' });
  });

  it('refuses on REST and tRPC (complete and stream) with model_not_allowed', async () => {
    const rest = await api(env.s.app, 'POST', '/api/chat/completions', {
      token: narrowKey,
      body: { model: 'mock-echo', messages: msgs },
    });
    expect(rest.status).toBe(403);
    expect(rest.body).toMatchObject({ error: { code: 'model_not_allowed' } });
    const restOk = await api(env.s.app, 'POST', '/api/chat/completions', {
      token: narrowKey,
      body: { model: 'echo-two', messages: msgs },
    });
    expect(restOk.status).toBe(200);
    const restEmbed = await api(env.s.app, 'POST', '/api/embeddings', {
      token: personalKey,
      body: { model: 'mock-embed', input: 'x' },
    });
    expect(restEmbed.status).toBe(403);
    expect(restEmbed.body).toMatchObject({ error: { code: 'model_not_allowed' } });

    const client = createTollgateClient({ url: env.url, apiKey: narrowKey });
    const err = await client.chat.complete
      .mutate({ model: 'mock-slow', messages: msgs })
      .then(() => null)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ data: { code: 'FORBIDDEN', reason: 'model_not_allowed' } });
    const streamErr = await new Promise<unknown>((resolve) => {
      const sub = client.chat.stream.subscribe(
        { requestId: randomUUID(), model: 'mock-echo', messages: msgs },
        {
          onData: () => resolve('data'),
          onComplete: () => resolve('complete'),
          onError: (e) => {
            sub.unsubscribe();
            resolve(e);
          },
        },
      );
    });
    expect(streamErr).toMatchObject({ data: { code: 'FORBIDDEN', reason: 'model_not_allowed' } });
  });

  it('a restricted key never mints or widens a key beyond its own team and list', async () => {
    const child = await api(env.s.app, 'POST', '/api/keys', {
      token: narrowKey,
      body: { name: 'child' },
    });
    expect(child.status).toBe(200);
    expect(child.body).toMatchObject({ teamId, allowedModels: ['echo-two', 'mock-slow'] });
    expect(await openaiStatus(child.body.key as string, 'mock-echo')).toMatchObject({
      status: 403,
    });
    const refusals: [Json, string][] = [
      [{ name: 'x', allowedModels: ['mock-echo'] }, 'allowedModels'],
      [{ name: 'x', allowedModels: [] }, 'allowedModels'],
      [{ name: 'x', teamId: '00000000-0000-4000-8000-000000000000' }, 'teamId'],
    ];
    for (const [body, field] of refusals) {
      const r = await api(env.s.app, 'POST', '/api/keys', { token: narrowKey, body });
      expect(r.status, field).toBe(403);
      expect(r.body).toMatchObject({ error: { code: 'forbidden' } });
    }
    // Widening itself is refused too; narrowing is fine.
    const self = await api(env.s.app, 'PATCH', `/api/keys/${child.body.id}`, {
      token: child.body.key as string,
      body: { allowedModels: [] },
    });
    expect(self.status).toBe(403);
    const narrower = await api(env.s.app, 'PATCH', `/api/keys/${child.body.id}`, {
      token: child.body.key as string,
      body: { allowedModels: ['echo-two'] },
    });
    expect(narrower.body).toMatchObject({ allowedModels: ['echo-two'] });
    // A personal restricted key's children stay personal and restricted.
    const personalChild = await api(env.s.app, 'POST', '/api/keys', {
      token: personalKey,
      body: { name: 'pc' },
    });
    expect(personalChild.body).toMatchObject({ teamId: null, allowedModels: ['mock-echo'] });
  });

  it('never falls back to a model outside the lists', async () => {
    env.fake.script(CHAT, [{ status: 500 }, { status: 500 }, { status: 500 }]);
    // The team admits fb-primary but not its fallback fb-second.
    const { openai } = sdkClients(env.url, teamKey);
    const err = await openai.chat.completions
      .create({ model: 'fb-primary', messages: msgs })
      .then(() => null)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 502, code: 'upstream_error' });
    const models = env.fake.requests(CHAT).map((r) => (r.body as { model: string }).model);
    expect(models.length).toBeGreaterThan(0);
    expect(models.every((m) => m === 'gpt-primary')).toBe(true);
  });
});

describe('/v1/models lists only what the caller may call', () => {
  const ids = async (key: string) => {
    const { openai } = sdkClients(env.url, key);
    const out: string[] = [];
    for await (const m of openai.models.list()) out.push(m.id);
    return out.sort();
  };

  it('filters by key ∩ team; without lists everything enabled is listed', async () => {
    expect(await ids(narrowKey)).toEqual(['echo-two']);
    expect(await ids(teamKey)).toEqual(['echo-two', 'fb-primary', 'mock-echo']);
    expect(await ids(personalKey)).toEqual(['mock-echo']);
    const all = await ids(member.apiKey);
    expect(all).toEqual(expect.arrayContaining(['echo-two', 'mock-echo', 'mock-slow', 'oa-mini']));
  });

  it('answers 404 for a model the caller may not use', async () => {
    const { openai } = sdkClients(env.url, narrowKey);
    expect((await openai.models.retrieve('echo-two')).id).toBe('echo-two');
    const err = await openai.models
      .retrieve('mock-echo')
      .then(() => null)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it("applies a team's new allow-list to its keys at once, and a key's own update too", async () => {
    const patch = await api(env.s.app, 'PATCH', `/api/teams/${teamId}`, {
      token: admin.apiKey,
      body: { allowedModels: ['mock-echo'] },
    });
    expect(patch.status).toBe(200);
    expect(await ids(teamKey)).toEqual(['mock-echo']);
    expect(await openaiStatus(teamKey, 'echo-two')).toMatchObject({ status: 403 });
    // The narrow key's list no longer meets the team's: it may call nothing.
    expect(await ids(narrowKey)).toEqual([]);

    const keys = await api(env.s.app, 'GET', `/api/keys?teamId=${teamId}`, {
      token: member.apiKey,
    });
    const narrow = (keys.body.items as Json[]).find((k) => k.name === 'narrow');
    const upd = await api(env.s.app, 'PATCH', `/api/keys/${narrow?.id}`, {
      token: member.apiKey,
      body: { allowedModels: [] },
    });
    expect(upd.status).toBe(200);
    expect(upd.body).toMatchObject({ teamId, allowedModels: [] });
    expect(await ids(narrowKey)).toEqual(['mock-echo']);
  });
});
