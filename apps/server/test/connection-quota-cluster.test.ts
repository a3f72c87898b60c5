import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import {
  createTestDb,
  type FakeUpstream,
  startFakeUpstream,
  type TestDb,
} from '@tollgate/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Running, startTollgate } from './spawn.ts';

// A connection's RPM quota (#16) is a shared limit: two instances on one database, A running two
// server processes (WEB_CONCURRENCY=2) and B one, never send it more than its quota per minute.
let testDb: TestDb;
let homes: string[] = [];
const running: Running[] = [];
let urlA: string;
let urlB: string;
let admin: TestUser;
let member: TestUser;
let limited: FakeUpstream;
let spare: FakeUpstream;
let solo: FakeUpstream;
const limitedKey = `sk-quota-a-${randomUUID()}`;
const spareKey = `sk-quota-b-${randomUUID()}`;
const soloKey = `sk-quota-c-${randomUUID()}`;
const CHAT = 'POST /v1/chat/completions';

const SECRET = 'connection-quota-secret-0123456789abcdefghijklmnop';

async function start(concurrency: number): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), 'tollgate-quota-'));
  homes.push(home);
  const t = startTollgate(
    {
      DATABASE_URL: testDb.url,
      WEB_CONCURRENCY: String(concurrency),
      PORT: '0',
      TOLLGATE_HOME: home,
      TOLLGATE_SECRET: SECRET,
    },
    ['--no-worker'],
  );
  running.push(t);
  const m = await t.waitFor(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/m);
  return m[1] as string;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of several routes, read field by field
type Json = any;
type Reply = { status: number; headers: Record<string, string | string[] | undefined>; body: Json };

/** One request on a fresh connection, so node:cluster may hand it to any process. */
function call(
  base: string,
  method: string,
  path: string,
  key: string,
  body?: unknown,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${base}${path}`,
      {
        method,
        agent: false,
        headers: {
          authorization: `Bearer ${key}`,
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function ok(r: Promise<Reply>): Promise<Json> {
  const reply = await r;
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body;
}

const chat = (model: string) => ({
  model,
  max_tokens: 5,
  messages: [{ role: 'user', content: 'hi' }],
});

/** Stay inside one UTC minute: the quota is per fixed window (docs/spend.md). */
async function awayFromMinuteEnd() {
  const second = new Date().getUTCSeconds();
  if (second > 45) await new Promise((r) => setTimeout(r, (61 - second) * 1000));
}

beforeAll(async () => {
  limited = await startFakeUpstream({ apiKey: limitedKey });
  spare = await startFakeUpstream({ apiKey: spareKey });
  solo = await startFakeUpstream({ apiKey: soloKey });
  testDb = await createTestDb();
  urlA = await start(2);
  urlB = await start(1);
  admin = await createTestUser(testDb.db, { role: 'admin' });
  member = await createTestUser(testDb.db);
  const connections = [
    { name: 'limited', url: limited.url, key: limitedKey, rpmLimit: 5 },
    { name: 'spare', url: spare.url, key: spareKey, rpmLimit: null },
    { name: 'solo', url: solo.url, key: soloKey, rpmLimit: 3 },
  ];
  for (const c of connections) {
    await ok(
      call(urlA, 'POST', '/api/providers', admin.apiKey, {
        kind: 'openai-compatible',
        name: c.name,
        baseUrl: `${c.url}/v1`,
        apiKey: c.key,
        rpmLimit: c.rpmLimit,
      }),
    );
  }
  const models = {
    'quota-pair': [
      // The limited connection is the favourite: every call tries it first while it has quota.
      { provider: 'limited', upstreamModel: 'up-limited', weight: 1000 },
      { provider: 'spare', upstreamModel: 'up-spare', weight: 1 },
    ],
    'quota-solo': [{ provider: 'solo', upstreamModel: 'up-solo' }],
  };
  for (const [name, deployments] of Object.entries(models)) {
    await ok(
      call(urlA, 'PUT', `/api/models/${name}`, admin.apiKey, {
        kind: 'chat',
        inputPricePerMTok: '1',
        outputPricePerMTok: '2',
        deployments,
      }),
    );
  }
}, 120_000);

afterAll(async () => {
  for (const t of running) {
    if (t.proc.exitCode === null) {
      t.proc.kill('SIGTERM');
      await t.exited;
    }
  }
  await testDb?.drop();
  await Promise.all([limited?.close(), spare?.close(), solo?.close()]);
  for (const h of homes) rmSync(h, { recursive: true, force: true });
  homes = [];
}, 60_000);

describe('connection quotas across processes and instances', { timeout: 120_000 }, () => {
  it('RPM 5 hammered over 3 processes: at most 5 reach it, the rest go to the other deployment', async () => {
    await awayFromMinuteEnd();
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        call(i % 2 === 0 ? urlA : urlB, 'POST', '/v1/chat/completions', member.apiKey, {
          ...chat('quota-pair'),
        }),
      ),
    );
    for (const r of replies) expect(r.status, JSON.stringify(r.body)).toBe(200);
    const a = limited.requests(CHAT).length;
    const b = spare.requests(CHAT).length;
    expect(a + b).toBe(40);
    expect(a).toBeLessThanOrEqual(5);
    expect(a).toBeGreaterThanOrEqual(1);
    // The shared books: the connection's minute window counts what reached it.
    const conn = await testDb.db
      .selectFrom('provider_connections')
      .select('id')
      .where('name', '=', 'limited')
      .executeTakeFirstOrThrow();
    const windows = await testDb.db
      .selectFrom('limit_windows')
      .select('subject')
      .where('subject', '=', `connection:${conn.id}`)
      .where('metric', '=', 'requests')
      .execute();
    expect(windows.length).toBeGreaterThan(0);
  });

  it('RPM 3 on the only deployment: at most 3 reach it, the rest get 429 rate_limit_exceeded', async () => {
    await awayFromMinuteEnd();
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call(i % 2 === 0 ? urlA : urlB, 'POST', '/v1/chat/completions', member.apiKey, {
          ...chat('quota-solo'),
        }),
      ),
    );
    const accepted = replies.filter((r) => r.status === 200);
    const refused = replies.filter((r) => r.status === 429);
    expect(accepted.length + refused.length).toBe(20);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    expect(accepted.length).toBeLessThanOrEqual(3);
    expect(solo.requests(CHAT)).toHaveLength(accepted.length);
    for (const r of refused) {
      expect(r.body.error.code).toBe('rate_limit_exceeded');
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
  });
});
