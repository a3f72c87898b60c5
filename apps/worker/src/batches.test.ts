import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type BatchItemInput,
  cancelBatch,
  type Deps,
  DomainError,
  getBatch,
  readResults,
  rotateWebhookSecret,
  seedModels,
  submitBatch,
  upsertModel,
} from '@tollgate/core';
import { createTestDeps, createTestUser, type TestUser } from '@tollgate/core/testing';
import {
  createTestDb,
  type FakeUpstream,
  startFakeUpstream,
  type TestDb,
} from '@tollgate/test-kit';
import { Logger, runOnce } from 'graphile-worker';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTaskList, type WorkerRuntime } from './tasks.ts';

let testDb: TestDb;
let deps: Deps;
let fake: FakeUpstream;
let member: TestUser;
let other: TestUser;
const silent = new Logger(() => () => {});
const noRetryTuning = {
  maxRetries: 0,
  baseDelayMs: 1,
  maxDelayMs: 1,
  random: () => 0,
  sleep: async () => {},
};

type Received = { headers: IncomingMessage['headers']; body: string };
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
let receiverAnswers: number[] = [];

beforeAll(async () => {
  testDb = await createTestDb();
  fake = await startFakeUpstream();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.statusCode = receiverAnswers.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  deps = createTestDeps(testDb.db, testDb.pool, {
    env: {
      OPENAI_API_KEY: 'sk-test-upstream',
      OPENAI_BASE_URL: `${fake.url}/v1`,
      WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
      BATCH_PROVIDER_CONCURRENCY: '2',
    },
  });
  await seedModels(deps);
  await upsertModel(deps, {
    name: 'fake-chat',
    provider: 'openai',
    upstreamModel: 'gpt-fake',
    kind: 'chat',
    inputPricePerMTok: '1',
    outputPricePerMTok: '2',
  });
  member = await createTestUser(testDb.db);
  other = await createTestUser(testDb.db);
});
afterAll(async () => {
  await deps.requestLog.close();
  await fake.close();
  await new Promise((r) => receiver.close(r));
  await testDb.drop();
});
beforeEach(() => {
  fake.reset();
  received.length = 0;
  receiverAnswers = [];
});

const rt = (): WorkerRuntime => ({
  deps,
  workerIds: new Set(),
  batch: { tuning: noRetryTuning, retryBaseMs: 0 },
});

/** Runs every job that is ready now (and those they enqueue for now) through the real tasks. */
async function runJobs(): Promise<void> {
  // runOnce can resolve before its last writes land (a job or queue still locked), and then
  // skips a queue that looked busy: run again until nothing is ready.
  for (let round = 0; round < 5; round++) {
    await runOnce({ pgPool: testDb.pool, taskList: buildTaskList(rt()), logger: silent });
    for (let i = 0; i < 100; i++) {
      const r = await sql<{ n: number }>`select
        (select count(*) from graphile_worker._private_jobs where locked_by is not null)
        + (select count(*) from graphile_worker._private_job_queues where locked_by is not null)
        as n`.execute(testDb.db);
      if (Number(r.rows[0]?.n) === 0) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    const ready = await sql<{ n: number }>`select count(*)::int as n from graphile_worker.jobs
      where run_at <= now() and locked_by is null and attempts < max_attempts`.execute(testDb.db);
    if (ready.rows[0]?.n === 0) return;
  }
}

const echo = (content: string, customId?: string): BatchItemInput => ({
  model: 'mock-echo',
  messages: [{ role: 'user', content }],
  ...(customId ? { customId } : {}),
});

async function logRows(batchId: string) {
  const r = await sql<{ batch_item_id: string; surface: string; cost_usd: string; status: string }>`
    select l.batch_item_id, l.surface, l.cost_usd, l.status from request_logs l
    join batch_items i on i.id::text = l.batch_item_id where i.batch_id = ${batchId}::uuid`.execute(
    testDb.db,
  );
  return r.rows;
}

describe('batch lifecycle', () => {
  it('runs every item through the gateway; results in input order, one billed log row each', async () => {
    const items = Array.from({ length: 7 }, (_, i) => echo(`item number ${i}`, `c-${i}`));
    const b = await submitBatch(deps, member.principal, items);
    expect(b.status).toBe('queued');
    expect(b.counts).toMatchObject({ total: 7, pending: 7 });
    await runJobs();

    const done = await getBatch(deps, member.principal, b.id);
    expect(done.status).toBe('completed');
    expect(done.counts).toEqual({
      total: 7,
      pending: 0,
      running: 0,
      succeeded: 7,
      failed: 0,
      cancelled: 0,
    });
    const page = await readResults(deps, member.principal, b.id);
    expect(page.items.map((l) => [l.index, l.customId, l.status])).toEqual(
      items.map((_, i) => [i, `c-${i}`, 'succeeded']),
    );
    expect(page.items.map((l) => (l.response as { content: string }).content)).toEqual(
      items.map((_, i) => `item number ${i}`),
    );
    const rows = await logRows(b.id);
    expect(rows).toHaveLength(7);
    expect(new Set(rows.map((r) => r.batch_item_id)).size).toBe(7);
    expect(rows.every((r) => r.surface === 'batch' && r.status === 'ok')).toBe(true);
    const sum = rows.reduce((s, r) => s + Number(r.cost_usd), 0);
    expect(Number(done.costUsd)).toBeCloseTo(sum, 12);
    expect(Number(done.costUsd)).toBeGreaterThan(0);
    // Every results line names its billed request.
    const ids = await sql<{ request_id: string }>`select request_id from request_logs
      where batch_item_id in (select id::text from batch_items where batch_id = ${b.id}::uuid)`.execute(
      testDb.db,
    );
    expect(new Set(page.items.map((l) => l.requestId))).toEqual(
      new Set(ids.rows.map((r) => r.request_id)),
    );
  });

  it('a second request-log row for the same batch item is refused by the database', async () => {
    const b = await submitBatch(deps, member.principal, [echo('once')]);
    await runJobs();
    const item = await testDb.db
      .selectFrom('batch_items')
      .select('id')
      .where('batch_id', '=', b.id)
      .executeTakeFirstOrThrow();
    await expect(
      sql`insert into request_logs (request_id, user_id, batch_item_id, model, provider,
        upstream_model, status, latency_ms)
        values ('dup', ${member.id}::uuid, ${item.id}, 'mock-echo', 'mock', 'mock-echo', 'ok', 1)`.execute(
        testDb.db,
      ),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await logRows(b.id)).toHaveLength(1);
  });

  it('refuses an unknown model naming the item, and writes nothing', async () => {
    const before = await testDb.db
      .selectFrom('batches')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    const items = [echo('a'), echo('b'), { ...echo('c'), model: 'no-such-model' }];
    await expect(submitBatch(deps, member.principal, items)).rejects.toMatchObject({
      code: 'bad_request',
      param: 'items.2.model',
      message: expect.stringMatching(/^items\[2\]\.model: /),
    });
    const after = await testDb.db
      .selectFrom('batches')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
  });

  it('someone else’s batch is not found, exactly like a missing one', async () => {
    const b = await submitBatch(deps, member.principal, [echo('mine')]);
    await expect(getBatch(deps, other.principal, b.id)).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(cancelBatch(deps, other.principal, b.id)).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(readResults(deps, other.principal, b.id)).rejects.toMatchObject({
      code: 'not_found',
    });
    await cancelBatch(deps, member.principal, b.id);
  });
});

describe('idempotency', () => {
  it('two concurrent submits with one key give one batch; another body is refused', async () => {
    const items = [echo('same body 1'), echo('same body 2')];
    const key = `k-${Date.now()}`;
    const [a, b] = await Promise.all([
      submitBatch(deps, member.principal, items, { idempotencyKey: key }),
      submitBatch(deps, member.principal, items, { idempotencyKey: key }),
    ]);
    expect(a.id).toBe(b.id);
    const n = await testDb.db
      .selectFrom('batch_items')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('batch_id', '=', a.id)
      .executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(2);
    const again = await submitBatch(deps, member.principal, items, { idempotencyKey: key });
    expect(again.id).toBe(a.id);
    await expect(
      submitBatch(deps, member.principal, [echo('another body')], { idempotencyKey: key }),
    ).rejects.toMatchObject({ code: 'unprocessable' });
    // Keys are per user: the same key is free for someone else.
    const theirs = await submitBatch(deps, other.principal, items, { idempotencyKey: key });
    expect(theirs.id).not.toBe(a.id);
    await cancelBatch(deps, member.principal, a.id);
    await cancelBatch(deps, other.principal, theirs.id);
  });
});

describe('cancel', () => {
  it('cancels pending items; the batch ends cancelled and results say so', async () => {
    const b = await submitBatch(deps, member.principal, [echo('x'), echo('y'), echo('z')]);
    const c = await cancelBatch(deps, member.principal, b.id);
    expect(c.status).toBe('cancelled');
    expect(c.counts).toMatchObject({ cancelled: 3, pending: 0 });
    expect(c.finishedAt).not.toBeNull();
    await runJobs(); // the chunk jobs find nothing to do
    const page = await readResults(deps, member.principal, b.id);
    expect(page.items.map((l) => l.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(await logRows(b.id)).toHaveLength(0);
  });
});

describe('retries', () => {
  it('an upstream 429 then success: the item is retried later and billed once', async () => {
    fake.script('POST /v1/chat/completions', [{ status: 429 }]);
    const b = await submitBatch(deps, member.principal, [
      { model: 'fake-chat', messages: [{ role: 'user', content: 'retry me' }] },
    ]);
    await runJobs();
    const done = await getBatch(deps, member.principal, b.id);
    expect(done.status).toBe('completed');
    expect(fake.requests('POST /v1/chat/completions')).toHaveLength(2);
    const item = await testDb.db
      .selectFrom('batch_items')
      .select(['attempts', 'status'])
      .where('batch_id', '=', b.id)
      .executeTakeFirstOrThrow();
    expect(item).toEqual({ attempts: 2, status: 'succeeded' });
    const rows = await logRows(b.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.status).toBe('ok');
  });

  it('a permanent refusal fails the item at once; the batch of only failures is failed', async () => {
    fake.script('POST /v1/chat/completions', [{ status: 400 }]);
    const b = await submitBatch(deps, member.principal, [
      { model: 'fake-chat', messages: [{ role: 'user', content: 'bad' }] },
    ]);
    await runJobs();
    const done = await getBatch(deps, member.principal, b.id);
    expect(done.status).toBe('failed');
    const page = await readResults(deps, member.principal, b.id);
    expect(page.items[0]).toMatchObject({ status: 'failed', error: { code: 'bad_request' } });
    expect(fake.requests('POST /v1/chat/completions')).toHaveLength(1);
    const rows = await logRows(b.id);
    expect(rows.map((r) => r.status)).toEqual(['error']);
  });
});

describe('webhooks', () => {
  function verify(r: Received, secret: string): boolean {
    const sig = String(r.headers['tollgate-signature']);
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
    if (!m) return false;
    const mac = createHmac('sha256', secret).update(`${m[1]}.${r.body}`).digest('hex');
    return mac === m[2];
  }

  it('needs a signing secret first; then delivers a signed notice, retried after a 500', async () => {
    await expect(
      submitBatch(deps, member.principal, [echo('hook')], { webhookUrl: receiverUrl }),
    ).rejects.toMatchObject({ code: 'bad_request', param: 'webhookUrl' });
    const { secret } = await rotateWebhookSecret(deps, member.principal);
    receiverAnswers = [500];
    const b = await submitBatch(deps, member.principal, [echo('hook')], {
      webhookUrl: receiverUrl,
    });
    await runJobs(); // the batch ends; the first delivery gets 500 and is rescheduled
    expect(received).toHaveLength(1);
    // graphile-worker's backoff: make the retry due now.
    await sql`update graphile_worker._private_jobs set run_at = now()`.execute(testDb.db);
    await runJobs();
    expect(received).toHaveLength(2);
    const last = received[1] as Received;
    expect(verify(last, secret)).toBe(true);
    expect(verify(last, 'whsec_wrong')).toBe(false);
    expect(JSON.parse(last.body)).toMatchObject({
      batchId: b.id,
      status: 'completed',
      counts: { total: 1, succeeded: 1 },
    });
    const got = await getBatch(deps, member.principal, b.id);
    expect(got.webhookDeliveries.map((d) => [d.attempt, d.statusCode, d.ok])).toEqual([
      [1, 500, false],
      [2, 200, true],
    ]);
  });

  it('the secret is stored encrypted, never in plain text', async () => {
    const { secret } = await rotateWebhookSecret(deps, other.principal);
    const row = await testDb.db
      .selectFrom('webhook_secrets')
      .select('secret_enc')
      .where('user_id', '=', other.id)
      .executeTakeFirstOrThrow();
    expect(row.secret_enc).not.toContain(secret);
    expect(row.secret_enc.startsWith('v1.')).toBe(true);
  });

  it('refuses private webhook URLs at creation, naming webhookUrl', async () => {
    await rotateWebhookSecret(deps, member.principal);
    for (const url of [
      'http://10.0.0.1/x',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]/x',
      'http://2130706434/x', // 127.0.0.2, decimal
      'http://0x7f.0.0.2/x', // hex
      'http://0177.0.0.2/x', // octal
      'http://[::ffff:127.0.0.2]/x', // IPv4-mapped IPv6
      'http://100.64.0.1/x', // CGNAT
      'http://[fe80::1]/x',
      'http://[fd00:ec2::254]/x', // unique-local (AWS IPv6 metadata)
      'http://224.0.0.1/x',
      'http://0.0.0.0/x',
      'http://192.168.1.1/x',
      'ftp://example.com/x',
      'http://user:pw@example.com/x',
    ]) {
      const e = await submitBatch(deps, member.principal, [echo('x')], { webhookUrl: url }).catch(
        (err: unknown) => err,
      );
      expect(e, url).toBeInstanceOf(DomainError);
      expect((e as DomainError).param, url).toBe('webhookUrl');
    }
  });

  it('checks again at delivery after resolving DNS: a name now resolving to loopback is refused', async () => {
    await rotateWebhookSecret(deps, member.principal);
    let answer = '93.184.216.34';
    const resolve = async () => [{ address: answer, family: 4 as const }];
    const b = await submitBatch(deps, member.principal, [echo('rebind')], {
      webhookUrl: 'http://hooks.example.test/hook',
      resolve,
    });
    answer = '127.0.0.2'; // DNS rebinding between creation and delivery
    const runtime = { ...rt(), webhook: { resolve } };
    await runOnce({ pgPool: testDb.pool, taskList: buildTaskList(runtime), logger: silent });
    const got = await getBatch(deps, member.principal, b.id);
    expect(got.status).toBe('completed');
    expect(got.webhookDeliveries).toHaveLength(1);
    expect(got.webhookDeliveries[0]).toMatchObject({ ok: false, statusCode: null });
    expect(got.webhookDeliveries[0]?.error).toMatch(/refused: address 127\.0\.0\.2/);
    expect(received).toHaveLength(0);
  });
});

describe('idempotency-key cleanup (cron task)', () => {
  it('forgets keys older than 24 hours, keeps newer ones', async () => {
    const b = await submitBatch(deps, member.principal, [echo('keyed')], {
      idempotencyKey: 'old-key',
    });
    await submitBatch(deps, member.principal, [echo('keyed')], { idempotencyKey: 'new-key' });
    await testDb.db
      .updateTable('idempotency_keys')
      .set({ created_at: new Date(Date.now() - 25 * 3_600_000) })
      .where('key', '=', 'old-key')
      .execute();
    await sql`select graphile_worker.add_job('purge_idempotency_keys', '{}'::json)`.execute(
      testDb.db,
    );
    await runJobs();
    const keys = await testDb.db
      .selectFrom('idempotency_keys')
      .select('key')
      .where('key', 'in', ['old-key', 'new-key'])
      .execute();
    expect(keys.map((k) => k.key)).toEqual(['new-key']);
    // The batch itself stays; the key is free again.
    const again = await submitBatch(deps, member.principal, [echo('other body')], {
      idempotencyKey: 'old-key',
    });
    expect(again.id).not.toBe(b.id);
  });
});

describe('results pages', () => {
  it('pages through results in input order with a cursor', async () => {
    const b = await submitBatch(
      deps,
      member.principal,
      Array.from({ length: 5 }, (_, i) => echo(`p${i}`)),
    );
    await runJobs();
    const first = await readResults(deps, member.principal, b.id, { limit: 2 });
    expect(first.items.map((l) => l.index)).toEqual([0, 1]);
    const second = await readResults(deps, member.principal, b.id, {
      limit: 2,
      cursor: first.nextCursor,
    });
    expect(second.items.map((l) => l.index)).toEqual([2, 3]);
    const last = await readResults(deps, member.principal, b.id, {
      limit: 2,
      cursor: second.nextCursor,
    });
    expect(last.items.map((l) => l.index)).toEqual([4]);
    expect(last.nextCursor).toBeNull();
  });
});
