import { createCaller, createContextInner } from '@tollgate/api';
import { createTollgateClient } from '@tollgate/client';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, listen, startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;
let member: TestUser;
let url: string;

beforeAll(async () => {
  s = await startTestServer();
  member = await createTestUser(s.testDb.db);
  url = await listen(s.app);
});
afterAll(() => closeTestServer(s));

const infoShape = {
  name: 'tollgate',
  version: '0.1.0',
  database: 'ok',
  uptimeSeconds: expect.any(Number),
  time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
};

describe('system.info through a server-side caller', () => {
  it('answers for an authenticated principal', async () => {
    const caller = createCaller(createContextInner(s.deps, member.principal));
    expect(await caller.system.info({})).toMatchObject(infoShape);
  });

  it('refuses an anonymous context with UNAUTHORIZED', async () => {
    const caller = createCaller(createContextInner(s.deps));
    const err = await caller.system.info({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCError);
    expect((err as TRPCError).code).toBe('UNAUTHORIZED');
  });
});

describe('system.info over HTTP /trpc', () => {
  it('answers a GET query with the tRPC result envelope', async () => {
    const res = await fetch(`${url}/trpc/system.info?input=${encodeURIComponent('{}')}`, {
      headers: { authorization: `Bearer ${member.apiKey}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ result: { data: infoShape } });
  });

  it('answers 401 in the tRPC error shape without credentials', async () => {
    const res = await fetch(`${url}/trpc/system.info?input=${encodeURIComponent('{}')}`);
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { data: unknown } };
    expect(body.error.data).toMatchObject({
      code: 'UNAUTHORIZED',
      httpStatus: 401,
      path: 'system.info',
      reason: 'unauthenticated',
    });
    expect(JSON.stringify(body)).not.toContain('stack');
  });

  it('answers 401 for an unknown API key', async () => {
    const res = await fetch(`${url}/trpc/system.info?input=${encodeURIComponent('{}')}`, {
      headers: { authorization: 'Bearer tg_not_a_real_key_000000000000000000000' },
    });
    expect(res.status).toBe(401);
  });
});

describe('system.info over REST', () => {
  it('GET /api/system/info answers the bare object', async () => {
    const res = await fetch(`${url}/api/system/info`, {
      headers: { authorization: `Bearer ${member.apiKey}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await res.json()).toEqual(infoShape);
  });
});

describe('system.info through @tollgate/client', () => {
  it('answers with an API key', async () => {
    const client = createTollgateClient({ url, apiKey: member.apiKey });
    expect(await client.system.info.query({})).toMatchObject(infoShape);
  });

  it('needs no argument for procedures without input (system.info, auth.me)', async () => {
    const client = createTollgateClient({ url, apiKey: member.apiKey });
    expect(await client.system.info.query()).toMatchObject(infoShape);
    expect(await client.auth.me.query()).toMatchObject({ id: member.id, role: 'member' });
  });

  it('accepts a trailing slash in the url and an access token getter', async () => {
    const client = createTollgateClient({ url: `${url}/`, accessToken: () => member.apiKey });
    expect((await client.system.info.query({})).name).toBe('tollgate');
  });

  it('rejects with a TRPCClientError carrying UNAUTHORIZED without credentials', async () => {
    const client = createTollgateClient({ url });
    const err = await client.system.info.query({}).catch((e: unknown) => e);
    // @trpc/client is the client package's dependency, not ours: check the error by its shape.
    expect((err as Error).name).toBe('TRPCClientError');
    expect((err as { data?: unknown }).data).toMatchObject({
      code: 'UNAUTHORIZED',
      httpStatus: 401,
    });
  });
});
