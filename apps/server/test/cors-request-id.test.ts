import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({ CORS_ORIGINS: 'https://app.example' });
});
afterAll(() => closeTestServer(s));

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('CORS', () => {
  it('allows a configured origin', async () => {
    const res = await s.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { origin: 'https://app.example' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(String(res.headers['access-control-expose-headers'])).toContain('x-request-id');
  });

  it('gives another origin no allow header', async () => {
    const res = await s.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { origin: 'https://evil.example' },
    });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers a preflight from the allowed origin with the method and headers allowed', async () => {
    const res = await s.app.inject({
      method: 'OPTIONS',
      url: '/api/system/info',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(String(res.headers['access-control-allow-methods'])).toContain('GET');
    expect(String(res.headers['access-control-allow-headers']).toLowerCase()).toContain(
      'authorization',
    );
  });

  it('does not allow a preflight from another origin', async () => {
    const res = await s.app.inject({
      method: 'OPTIONS',
      url: '/api/system/info',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('sends no CORS headers at all when CORS_ORIGINS is unset', async () => {
    const plain = await startTestServer();
    try {
      const res = await plain.app.inject({
        method: 'GET',
        url: '/healthz',
        headers: { origin: 'https://app.example' },
      });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await closeTestServer(plain);
    }
  });
});

describe('x-request-id', () => {
  it('echoes a sane id the caller gave', async () => {
    const res = await s.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'client-req.42:abc_DEF' },
    });
    expect(res.headers['x-request-id']).toBe('client-req.42:abc_DEF');
  });

  it('generates a uuid when none is given', async () => {
    const a = await s.app.inject({ method: 'GET', url: '/healthz' });
    const b = await s.app.inject({ method: 'GET', url: '/healthz' });
    expect(a.headers['x-request-id']).toMatch(UUID);
    expect(b.headers['x-request-id']).toMatch(UUID);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  it('replaces an id that is too long', async () => {
    const res = await s.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'a'.repeat(200) },
    });
    expect(res.headers['x-request-id']).toMatch(UUID);
  });

  it('replaces an id with unsafe characters', async () => {
    const res = await s.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'abc<script>"; drop' },
    });
    expect(res.headers['x-request-id']).toMatch(UUID);
  });

  it('is set on error responses too', async () => {
    const res = await s.app.inject({
      method: 'GET',
      url: '/api/system/info',
      headers: { 'x-request-id': 'err-trace-1' },
    });
    expect(res.statusCode).toBe(401);
    expect(res.headers['x-request-id']).toBe('err-trace-1');
  });
});
