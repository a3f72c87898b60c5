import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedModels } from '@tollgate/core';
import { createTestDeps, createTestUser, type TestUser } from '@tollgate/core/testing';
import {
  createDb,
  createPool,
  type EmbeddedPostgresHandle,
  migrate,
  startEmbeddedPostgres,
} from '@tollgate/db';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../src/app.ts';
import { listen } from './helpers.ts';

// A Postgres of its own (the shared test one cannot be stopped), stopped and started again
// under load, with the same server process running throughout.

let dataDir: string;
let port: number;
let pg: EmbeddedPostgresHandle;
let pool: ReturnType<typeof createPool>;
let deps: ReturnType<typeof createTestDeps>;
let app: FastifyInstance;
let base: string;
let user: TestUser;

beforeAll(async () => {
  dataDir = join(mkdtempSync(join(tmpdir(), 'tollgate-pgfault-')), 'pg');
  pg = await startEmbeddedPostgres({ dataDir, persistent: true });
  port = pg.port;
  pool = createPool(pg.url('tollgate'), { max: 10 });
  await migrate(pool);
  deps = createTestDeps(createDb(pool), pool);
  await seedModels(deps);
  user = await createTestUser(deps.db);
  app = await buildServer(deps);
  base = await listen(app);
}, 120_000);

afterAll(async () => {
  await app?.close();
  await deps?.requestLog.close();
  await deps?.auth.close();
  await pool?.end();
  await pg?.stop();
  rmSync(join(dataDir, '..'), { recursive: true, force: true });
});

const headers = (requestId?: string) => ({
  authorization: `Bearer ${user.apiKey}`,
  'content-type': 'application/json',
  ...(requestId ? { 'x-request-id': requestId } : {}),
});
const chatBody = JSON.stringify({
  model: 'mock-echo',
  messages: [{ role: 'user', content: 'hello through a restart' }],
});

type Answer = { id: string; status: number; body: { error?: { code?: string } } };

async function chat(id: string): Promise<Answer> {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: headers(id),
    body: chatBody,
  });
  return { id, status: res.status, body: (await res.json()) as Answer['body'] };
}

/** Each surface while the database is down: 503 in its own error shape. */
async function surfacesWhileDown() {
  const v1 = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: headers(),
    body: chatBody,
  });
  const messages = await fetch(`${base}/v1/messages`, {
    method: 'POST',
    headers: headers(),
    body: JSON.stringify({
      model: 'mock-echo',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'x' }],
    }),
  });
  const rest = await fetch(`${base}/api/keys`, { headers: headers() });
  const trpc = await fetch(`${base}/trpc/keys.list?input=${encodeURIComponent('{}')}`, {
    headers: headers(),
  });
  return {
    v1: { status: v1.status, body: await v1.json() },
    messages: { status: messages.status, body: await messages.json() },
    rest: { status: rest.status, body: await rest.json() },
    trpc: { status: trpc.status, body: await trpc.json() },
  };
}

describe('Postgres restarted under load', () => {
  it('every request is answered (200 or 503), the server recovers by itself, no logged 200 is lost', async () => {
    const answers: Answer[] = [];
    let next = 0;
    const total = 200;
    let stopped: Promise<void> | undefined;
    let down: Awaited<ReturnType<typeof surfacesWhileDown>> | undefined;
    // 8 callers in parallel; Postgres goes away after a quarter of the requests and comes back.
    const caller = async () => {
      while (next < total) {
        const i = next++;
        if (i === 50) {
          stopped = pg.stop().then(async () => {
            down = await surfacesWhileDown();
          });
        }
        if (i === 120) {
          await stopped;
          pg = await startEmbeddedPostgres({ dataDir, persistent: true, port });
        }
        answers.push(await chat(`load-${i}-${randomUUID()}`));
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await Promise.all(Array.from({ length: 8 }, caller));

    expect(answers).toHaveLength(total);
    const statuses = new Set(answers.map((a) => a.status));
    expect([...statuses].every((s) => s === 200 || s === 503)).toBe(true);
    for (const a of answers.filter((x) => x.status === 503)) {
      expect(a.body.error?.code).toBe('unavailable');
    }
    expect(answers.filter((a) => a.status === 503).length).toBeGreaterThan(0);

    // While it was down: each surface in its own shape.
    expect(down?.v1.status).toBe(503);
    expect(down?.v1.body).toMatchObject({ error: { code: 'unavailable', type: 'api_error' } });
    expect(down?.messages.status).toBe(503);
    expect(down?.messages.body).toMatchObject({
      type: 'error',
      error: { type: 'overloaded_error' },
    });
    expect(down?.rest.status).toBe(503);
    expect(down?.rest.body).toMatchObject({ error: { code: 'unavailable' } });
    expect(down?.trpc.status).toBe(503);
    expect(down?.trpc.body).toMatchObject({ error: { data: { code: 'SERVICE_UNAVAILABLE' } } });

    // Recovered without a restart: new calls succeed and /readyz is ready again.
    let after: Answer | undefined;
    for (let i = 0; i < 100 && after?.status !== 200; i++) {
      after = await chat(`after-${i}`);
      if (after.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(after?.status).toBe(200);

    // Every call answered 200 has its request-log row (rows buffered while down were retried).
    const ok = answers.filter((a) => a.status === 200).map((a) => a.id);
    let logged = new Set<string>();
    for (let i = 0; i < 100; i++) {
      await deps.requestLog.flush();
      const rows = await deps.db.selectFrom('request_logs').select('request_id').execute();
      logged = new Set(rows.map((r) => r.request_id));
      if (ok.every((id) => logged.has(id))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(ok.filter((id) => !logged.has(id))).toEqual([]);
    expect(deps.requestLog.pending()).toBe(0);
  }, 120_000);
});
