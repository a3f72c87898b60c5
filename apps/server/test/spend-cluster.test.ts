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

// Two instances on one database: A runs two server processes (WEB_CONCURRENCY=2), B one.
let testDb: TestDb;
let homes: string[] = [];
const running: Running[] = [];
let urlA: string;
let urlB: string;
let admin: TestUser;

const SECRET = 'spend-cluster-secret-0123456789abcdefghijklmnop';

async function start(concurrency: number): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), 'tollgate-spend-'));
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
            // an SSE body stays text
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

const chatBody = (content: string, maxTokens: number, model = 'mock-echo') => ({
  model,
  max_tokens: maxTokens,
  messages: [{ role: 'user', content }],
});

async function okRows(keyId: string) {
  return testDb.db
    .selectFrom('request_logs')
    .select(['status', 'cost_usd', 'error_code'])
    .where('key_id', '=', keyId)
    .execute();
}

/** Request-log rows are written within ~250 ms by each process; wait until `n` are there. */
async function waitForRows(keyId: string, n: number) {
  for (let i = 0; i < 100; i++) {
    const rows = await okRows(keyId);
    if (rows.length >= n) return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
  return okRows(keyId);
}

async function setBudget(scope: string, targetId: string, amountUsd: string) {
  const r = await call(urlA, 'PUT', '/api/budgets', admin.apiKey, {
    scope,
    targetId,
    period: 'day',
    amountUsd,
  });
  expect(r.status).toBe(200);
}

beforeAll(async () => {
  testDb = await createTestDb();
  urlA = await start(2);
  urlB = await start(1);
  admin = await createTestUser(testDb.db, { role: 'admin' });
}, 120_000);

afterAll(async () => {
  for (const t of running) {
    if (t.proc.exitCode === null) {
      t.proc.kill('SIGTERM');
      await t.exited;
    }
  }
  await testDb?.drop();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
  homes = [];
}, 60_000);

// A connection's RPM quota (#16) is a shared limit too: the same three processes never send it
// more than its quota per minute (in this file so the cluster is started once; before the SIGKILL test, which stops B).
let quotaMember: TestUser;
let limited: FakeUpstream;
let spare: FakeUpstream;
let solo: FakeUpstream;
const limitedKey = `sk-quota-a-${randomUUID()}`;
const spareKey = `sk-quota-b-${randomUUID()}`;
const soloKey = `sk-quota-c-${randomUUID()}`;
const CHAT = 'POST /v1/chat/completions';

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

describe('connection quotas across processes and instances', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    limited = await startFakeUpstream({ apiKey: limitedKey });
    spare = await startFakeUpstream({ apiKey: spareKey });
    solo = await startFakeUpstream({ apiKey: soloKey });
    quotaMember = await createTestUser(testDb.db);
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
  });
  afterAll(async () => {
    await Promise.all([limited?.close(), spare?.close(), solo?.close()]);
  });

  it('RPM 5 hammered over 3 processes: at most 5 reach it, the rest go to the other deployment', async () => {
    await awayFromMinuteEnd();
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        call(i % 2 === 0 ? urlA : urlB, 'POST', '/v1/chat/completions', quotaMember.apiKey, {
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
        call(i % 2 === 0 ? urlA : urlB, 'POST', '/v1/chat/completions', quotaMember.apiKey, {
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

describe('spend limits across processes and instances', { timeout: 120_000 }, () => {
  it('50 concurrent calls over 3 processes on 2 instances never spend past the budget', async () => {
    const member = await createTestUser(testDb.db);
    // "hello" on mock-echo with max_tokens 2: reserved and billed $0.000009 each.
    const perCall = 0.000009;
    const budget = 5 * perCall;
    await setBudget('key', member.apiKeyId, budget.toFixed(6));
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        call(
          i % 2 === 0 ? urlA : urlB,
          'POST',
          '/v1/chat/completions',
          member.apiKey,
          chatBody('hello', 2),
        ),
      ),
    );
    const ok = replies.filter((r) => r.status === 200);
    const refused = replies.filter((r) => r.status === 429);
    expect(ok.length + refused.length).toBe(50);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(ok.length).toBeLessThanOrEqual(5);
    for (const r of refused) {
      expect(r.body.error.code).toBe('budget_exceeded');
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
    const rows = await waitForRows(member.apiKeyId, 50);
    const billed = rows.filter((r) => r.status === 'ok');
    expect(billed).toHaveLength(ok.length);
    // The stated bound: no overspend beyond reservations' estimation error, which is 0 on the mock.
    const spent = billed.reduce((a, r) => a + Number(r.cost_usd), 0);
    expect(spent).toBeLessThanOrEqual(budget + 1e-12);
    const rejected = rows.filter((r) => r.status === 'rejected');
    expect(rejected).toHaveLength(refused.length);
    expect(rejected.every((r) => Number(r.cost_usd) === 0)).toBe(true);
  });

  it('RPM 60 hammered from two processes: at most 60 accepted in the minute', async () => {
    // Stay inside one UTC minute: the limit is per fixed window (docs/spend.md).
    const second = new Date().getUTCSeconds();
    if (second > 50) await new Promise((r) => setTimeout(r, (61 - second) * 1000));
    const member = await createTestUser(testDb.db);
    const created = await call(urlA, 'POST', '/api/keys', member.apiKey, {
      name: 'rpm60',
      rpmLimit: 60,
    });
    const key = created.body.key as string;
    const replies = await Promise.all(
      Array.from({ length: 90 }, () =>
        call(urlA, 'POST', '/v1/chat/completions', key, chatBody('hi', 2)),
      ),
    );
    const accepted = replies.filter((r) => r.status === 200).length;
    const refused = replies.filter((r) => r.status === 429);
    expect(accepted + refused.length).toBe(90);
    expect(accepted).toBeLessThanOrEqual(60);
    // Under-admission is not a safety property and is not tightly bounded: while one process
    // holds an unspent lease another may refuse, and CPU starvation widens that (clean CI runs
    // saw 47 to 60 of 60). The guarantee is the upper bound above; this only checks the limiter
    // admits most of the limit rather than refusing wholesale.
    expect(accepted).toBeGreaterThanOrEqual(60 / 2);
    for (const r of refused) expect(r.body.error.code).toBe('rate_limit_exceeded');
    const holders = await testDb.db
      .selectFrom('limit_windows')
      .select('used')
      .where('subject', '=', `key:${created.body.id}`)
      .where('metric', '=', 'requests')
      .execute();
    expect(holders.length).toBeGreaterThan(0);
  });

  it("a SIGKILLed process's reservation is released when its lease expires", async () => {
    const member = await createTestUser(testDb.db);
    const words = Array.from({ length: 120 }, (_, i) => `w${i}`).join(' ');
    // Worst case of one call: input tokens + 200 output tokens at $1/$2 per MTok.
    const inputTokens = Math.ceil(words.length / 4) + 3;
    const worst = (inputTokens + 2 * 200) / 1e6;
    await setBudget('user', member.id, (1.5 * worst).toFixed(7));
    // B (one process) starts a 6-second stream and holds the reservation.
    const pidB = await fetch(`${urlB}/healthz`).then(
      async (r) => ((await r.json()) as { pid: number }).pid,
    );
    const streaming = call(urlB, 'POST', '/v1/chat/completions', member.apiKey, {
      ...chatBody(words, 200, 'mock-slow'),
      stream: true,
    }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    const during = await call(
      urlA,
      'POST',
      '/v1/chat/completions',
      member.apiKey,
      chatBody(words, 200),
    );
    expect(during.status).toBe(429);
    expect(during.body.error.code).toBe('budget_exceeded');

    process.kill(pidB, 'SIGKILL');
    await streaming;
    const killedAt = Date.now();
    let after: Reply | undefined;
    while (Date.now() - killedAt < 30_000) {
      after = await call(urlA, 'POST', '/v1/chat/completions', member.apiKey, chatBody(words, 200));
      if (after.status === 200) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(after?.status).toBe(200);
  });
});
