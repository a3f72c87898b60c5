import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;
let member: TestUser;

beforeAll(async () => {
  s = await startTestServer();
  member = await createTestUser(s.testDb.db);
});
afterAll(() => closeTestServer(s));

describe('system.info', () => {
  it('answers on REST with version, uptime and database status', async () => {
    const res = await s.app.inject({
      method: 'GET',
      url: '/api/system/info',
      headers: { authorization: `Bearer ${member.apiKey}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ name: 'tollgate', version: '0.1.0', database: 'ok' });
  });

  it('refuses anonymous REST calls with 401 in the REST error shape', async () => {
    const res = await s.app.inject({ method: 'GET', url: '/api/system/info' });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({
      error: { code: 'unauthenticated', message: expect.any(String) },
    });
  });
});
