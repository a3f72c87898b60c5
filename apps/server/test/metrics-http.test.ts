import { randomUUID } from 'node:crypto';
import { enqueue } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, startTestServer, type TestServer } from './helpers.ts';
import { metricTypes, parseSamples, sampleValue } from './metrics-text.ts';

let s: TestServer;
let member: TestUser;

beforeAll(async () => {
  s = await startTestServer();
  member = await createTestUser(s.testDb.db);
});
afterAll(() => closeTestServer(s));

async function scrape(server: TestServer = s, headers: Record<string, string> = {}) {
  const res = await server.app.inject({ method: 'GET', url: '/metrics', headers });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toContain('text/plain');
  return res.body;
}

const HTTP = 'tollgate_http_request_duration_seconds_count';

describe('GET /metrics', () => {
  it('counts requests by route template, method and numeric status', async () => {
    for (let i = 0; i < 3; i++) await s.app.inject({ method: 'GET', url: '/healthz' });
    for (let i = 0; i < 2; i++) {
      const res = await s.app.inject({ method: 'GET', url: '/openapi.json' });
      expect(res.statusCode).toBe(200);
    }
    const anon = await s.app.inject({ method: 'GET', url: '/api/system/info' });
    expect(anon.statusCode).toBe(401);
    await s.app.inject({ method: 'GET', url: `/no/such/path/${randomUUID()}` });

    const samples = parseSamples(await scrape());
    const count = (labels: Record<string, string>) => sampleValue(samples, HTTP, labels);
    expect(count({ route: '/healthz', method: 'GET', status: '200' })).toBe(3);
    expect(count({ route: '/openapi.json', method: 'GET', status: '200' })).toBe(2);
    expect(count({ route: '/api/system/info', method: 'GET', status: '401' })).toBe(1);
    expect(count({ route: 'unknown', method: 'GET', status: '404' })).toBe(1);
    // Histogram series come whole: +Inf bucket equals the count, sum is present.
    expect(
      sampleValue(samples, 'tollgate_http_request_duration_seconds_bucket', {
        route: '/healthz',
        le: '+Inf',
      }),
    ).toBe(3);
    expect(
      sampleValue(samples, 'tollgate_http_request_duration_seconds_sum', { route: '/healthz' }),
    ).toBeGreaterThanOrEqual(0);
  });

  it('labels tRPC calls by procedure and REST calls by OpenAPI template', async () => {
    const anon = await s.app.inject({ method: 'GET', url: '/trpc/system.info' });
    expect(anon.statusCode).toBe(401);
    await s.app.inject({ method: 'GET', url: `/trpc/${randomUUID()}` });
    // Every REST operation, its path parameters filled with fresh ids, counts under its template.
    const doc = (await s.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    const templates: Array<{ method: string; template: string }> = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      // The /v1 routes carry their own server, the root; the rest are under the document's /api.
      const base = (item.servers as { url: string }[] | undefined)?.[0]?.url === '/' ? '' : '/api';
      for (const method of Object.keys(item)) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
        const template = `${base}${path}`;
        templates.push({ method: method.toUpperCase(), template });
        await s.app.inject({
          method: method.toUpperCase() as 'GET',
          url: template.replace(/\{[^}]+\}/g, () => randomUUID()),
          headers: { authorization: `Bearer ${member.apiKey}` },
          ...(method === 'get' || method === 'delete' ? {} : { payload: {} }),
        });
      }
    }
    expect(templates.length).toBeGreaterThan(0);
    const text = await scrape();
    const samples = parseSamples(text);
    for (const t of templates) {
      expect(sampleValue(samples, HTTP, { route: t.template, method: t.method })).toBeGreaterThan(
        0,
      );
    }
    expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(sampleValue(samples, HTTP, { route: '/trpc/system.info', status: '401' })).toBe(1);
    expect(sampleValue(samples, HTTP, { route: '/trpc/{path}', status: '404' })).toBe(1);
  });

  it('exposes runtime defaults and the database pool gauge', async () => {
    const text = await scrape();
    const types = metricTypes(text);
    expect(types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(types.get('nodejs_heap_size_total_bytes')).toBe('gauge');
    const samples = parseSamples(text);
    const total = sampleValue(samples, 'tollgate_db_pool_connections', { state: 'total' });
    expect(total).toBe(s.testDb.pool.totalCount);
    expect(total).toBeGreaterThan(0);
    expect(sampleValue(samples, 'tollgate_db_pool_connections', { state: 'idle' })).toBeDefined();
    expect(
      sampleValue(samples, 'tollgate_db_pool_connections', { state: 'waiting' }),
    ).toBeDefined();
  });

  it('reads the queue depth by queue name at scrape time (default when none)', async () => {
    const before = parseSamples(await scrape());
    expect(sampleValue(before, 'tollgate_queue_depth', { queue: 'default' })).toBe(0);

    await enqueue(s.testDb.db, 'worker_heartbeat', {});
    await enqueue(s.testDb.db, 'worker_heartbeat', {});
    await enqueue(s.testDb.db, 'unlock_dead_workers', {}, { queueName: 'maintenance' });
    const after = parseSamples(await scrape());
    expect(sampleValue(after, 'tollgate_queue_depth', { queue: 'default' })).toBe(2);
    expect(sampleValue(after, 'tollgate_queue_depth', { queue: 'maintenance' })).toBe(1);

    // Drained queues read 0 rather than keeping their old value.
    await s.testDb.pool.query('delete from graphile_worker._private_jobs');
    const drained = parseSamples(await scrape());
    expect(sampleValue(drained, 'tollgate_queue_depth', { queue: 'default' })).toBe(0);
    expect(sampleValue(drained, 'tollgate_queue_depth', { queue: 'maintenance' })).toBe(0);
  });

  it('keeps the series count bounded under 1,000 requests to bogus paths and models', async () => {
    const seriesCount = (text: string) =>
      parseSamples(text).filter((x) => x.name.startsWith('tollgate_')).length;
    // Warm up every label combination the bogus traffic can produce.
    const bogus = (i: number) => {
      const id = randomUUID();
      const headers = { authorization: `Bearer ${member.apiKey}` };
      const model = `bogus-model-${id}`;
      const body = { model, messages: [{ role: 'user', content: 'hi' }] };
      switch (i % 6) {
        case 0:
          return s.app.inject({ method: 'GET', url: `/${id}/${i}` });
        case 1:
          return s.app.inject({ method: 'GET', url: `/api/${id}?q=${i}` });
        case 2:
          return s.app.inject({
            method: 'POST',
            url: '/api/chat/completions',
            headers,
            payload: body,
          });
        case 3:
          return s.app.inject({
            method: 'POST',
            url: '/v1/chat/completions',
            headers,
            payload: body,
          });
        case 4:
          return s.app.inject({ method: 'POST', url: `/trpc/${id}`, headers, payload: body });
        default:
          return s.app.inject({ method: 'DELETE', url: `/api/keys/${id}`, headers });
      }
    };
    for (let i = 0; i < 12; i++) await bogus(i);
    const before = await scrape();
    for (let i = 0; i < 1000; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => bogus(i + j)));
    }
    const after = await scrape();
    expect(seriesCount(after)).toBe(seriesCount(before));
    expect(after).not.toMatch(/bogus-model|[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(sampleValue(parseSamples(after), HTTP, { route: 'unknown' })).toBeGreaterThan(300);
  });
});

describe('METRICS_TOKEN', () => {
  const token = `metrics-token-${randomUUID()}`;
  let guarded: TestServer;
  beforeAll(async () => {
    guarded = await startTestServer({ METRICS_TOKEN: token });
  });
  afterAll(() => closeTestServer(guarded));

  it('refuses a scrape without the bearer token, or with a wrong one', async () => {
    for (const headers of [
      {},
      { authorization: `Bearer ${token}x` },
      { authorization: `Basic ${token}` },
      { authorization: token },
    ]) {
      const res = await guarded.app.inject({ method: 'GET', url: '/metrics', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({
        error: { code: 'unauthenticated', message: expect.any(String) },
      });
      expect(res.body).not.toContain('tollgate_');
    }
  });

  it('serves the scrape with the right bearer token', async () => {
    const text = await scrape(guarded, { authorization: `Bearer ${token}` });
    expect(metricTypes(text).get('tollgate_http_request_duration_seconds')).toBe('histogram');
    expect(text).not.toContain(token);
  });
});
