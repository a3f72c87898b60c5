import { recordHeartbeat } from '@tollgate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => closeTestServer(s));

describe('/healthz', () => {
  it('answers 200 with this process id, without credentials', async () => {
    const res = await s.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', pid: process.pid });
  });
});

describe('/readyz', () => {
  it('is 503 and names the worker check while no worker has beaten', async () => {
    const res = await s.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    const body = res.json();
    expect(body.status).toBe('not_ready');
    expect(body.checks.worker.ok).toBe(false);
    expect(body.checks.worker.detail).toMatch(/no worker heartbeat/);
    expect(body.checks.database.ok).toBe(true);
    expect(body.checks.migrations).toEqual({ ok: true, detail: 'current' });
  });

  it('turns 200 once a worker heartbeat is recorded', async () => {
    await recordHeartbeat(s.deps, 'test-worker-1');
    const res = await s.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ready', ready: true });
    expect(res.json().checks.worker.ok).toBe(true);
  });

  it('ignores a heartbeat older than the stale limit', async () => {
    await s.testDb.db
      .updateTable('worker_heartbeats')
      .set({ seen_at: new Date(Date.now() - 10 * 60_000) })
      .execute();
    const res = await s.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json().checks.worker.ok).toBe(false);
  });
});
