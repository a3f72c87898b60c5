import { type BatchChunk, processBatchChunk, purgeStoredObjects } from '@tollgate/core';
import { createTestUser } from '@tollgate/core/testing';
import { sql } from 'kysely';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CompatEnv, startCompatEnv } from './compat-fixtures.ts';
import { httpRouteCounts } from './metrics-text.ts';

let env: CompatEnv;

beforeAll(async () => {
  env = await startCompatEnv();
});
afterAll(() => env.close());

const line = (customId: string, model: string, text: string) =>
  JSON.stringify({
    custom_id: customId,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model, messages: [{ role: 'user', content: text }], max_tokens: 50 },
  });

async function upload(client: OpenAI, jsonl: string) {
  return client.files.create({
    file: await toFile(Buffer.from(jsonl), 'requests.jsonl'),
    purpose: 'batch',
  });
}

/** Runs the batch's chunk jobs in this process through the worker's own task function. */
async function runBatchJobs(): Promise<void> {
  const jobs = await sql<{ id: string; payload: BatchChunk }>`select j.id, j.payload
    from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
    where t.identifier = 'batch_chunk' order by j.id`.execute(env.s.testDb.db);
  for (const j of jobs.rows) {
    await processBatchChunk(env.s.deps, j.payload, {
      id: j.id,
      signal: new AbortController().signal,
    });
    await sql`delete from graphile_worker._private_jobs where id = ${j.id}`.execute(
      env.s.testDb.db,
    );
  }
}

async function pollUntilEnded(id: string) {
  for (let i = 0; i < 50; i++) {
    const b = await env.openai.batches.retrieve(id);
    if (['completed', 'failed', 'cancelled', 'expired'].includes(b.status)) return b;
    await runBatchJobs();
  }
  throw new Error(`batch ${id} never ended`);
}

const parseJsonl = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('OpenAI Batches through the official openai SDK', () => {
  it('runs a batch file; output and error files hold the results by custom_id', async () => {
    env.fake.script('POST /v1/chat/completions', [{ status: 400 }]);
    const file = await upload(
      env.openai,
      [
        line('first', 'mock-echo', 'hello one'),
        line('broken', 'oa-mini', 'refused upstream'),
        line('second', 'mock-echo', 'hello two'),
      ].join('\n'),
    );
    const created = await env.openai.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { job: 'nightly' },
    });
    expect(created).toMatchObject({
      object: 'batch',
      endpoint: '/v1/chat/completions',
      input_file_id: file.id,
      completion_window: '24h',
      status: 'in_progress',
      output_file_id: null,
      error_file_id: null,
      request_counts: { total: 3, completed: 0, failed: 0 },
      metadata: { job: 'nightly' },
    });
    expect(created.id).toMatch(/^batch_[0-9a-f]{32}$/);

    // The identical create again is the same batch (idempotency key derived from the file).
    const again = await env.openai.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { job: 'nightly' },
    });
    expect(again.id).toBe(created.id);

    const done = await pollUntilEnded(created.id);
    expect(done).toMatchObject({
      status: 'completed',
      request_counts: { total: 3, completed: 2, failed: 1 },
    });
    expect(done.completed_at).toBeGreaterThanOrEqual(done.created_at);
    expect(done.output_file_id).toMatch(/^file-/);
    expect(done.error_file_id).toMatch(/^file-/);

    const outFile = await env.openai.files.retrieve(done.output_file_id as string);
    const outText = await (await env.openai.files.content(done.output_file_id as string)).text();
    expect(outFile).toMatchObject({ purpose: 'batch_output', bytes: Buffer.byteLength(outText) });
    const out = parseJsonl(outText);
    expect(out.map((l) => l.custom_id).sort()).toEqual(['first', 'second']);
    const byId = new Map(out.map((l) => [l.custom_id, l]));
    for (const [customId, text] of [
      ['first', 'hello one'],
      ['second', 'hello two'],
    ] as const) {
      const l = byId.get(customId) as {
        id: string;
        error: unknown;
        response: { status_code: number; request_id: string; body: OpenAI.ChatCompletion };
      };
      expect(l.error).toBeNull();
      expect(l.response.status_code).toBe(200);
      expect(l.response.body.object).toBe('chat.completion');
      expect(l.response.body.choices[0]?.message.content).toContain(text);
      expect(l.response.body.usage?.total_tokens).toBeGreaterThan(0);
      // The request id is the request log's: the item was billed like any call.
      const logged = await sql<{ input_tokens: number; output_tokens: number; cost: string }>`
        select input_tokens, output_tokens, cost_usd::text as cost from request_logs
        where request_id = ${l.response.request_id}`.execute(env.s.testDb.db);
      expect(logged.rows).toHaveLength(1);
      // Exact cost, as numeric(20,10): the mock models are $1 per M input, $2 per M output.
      const [row] = logged.rows;
      expect(row?.cost).toBe(
        (((row?.input_tokens ?? 0) * 1 + (row?.output_tokens ?? 0) * 2) / 1e6).toFixed(10),
      );
    }

    const errs = parseJsonl(
      await (await env.openai.files.content(done.error_file_id as string)).text(),
    );
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({
      custom_id: 'broken',
      response: null,
      error: { code: 'bad_request' },
    });

    const list = await env.openai.batches.list({ limit: 10 });
    expect(list.data.map((b) => b.id)).toContain(created.id);
  });

  it('lists newest first with after/limit paging', async () => {
    const file = await upload(env.openai, line('x', 'mock-echo', 'paging'));
    const ids: string[] = [];
    for (const w of ['a', 'b', 'c']) {
      const b = await env.openai.batches.create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
        metadata: { w },
      });
      ids.push(b.id);
    }
    const first = await env.openai.batches.list({ limit: 2 });
    expect(first.data.map((b) => b.id)).toEqual([ids[2], ids[1]]);
    expect(first.has_more).toBe(true);
    const second = await env.openai.batches.list({ limit: 2, after: ids[1] });
    expect(second.data[0]?.id).toBe(ids[0]);
    await runBatchJobs();
  });

  it('cancels: pending requests end cancelled and land in the error file', async () => {
    const file = await upload(
      env.openai,
      [line('c1', 'mock-echo', 'one'), line('c2', 'mock-echo', 'two')].join('\n'),
    );
    const b = await env.openai.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const cancelled = await env.openai.batches.cancel(b.id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.cancelled_at).not.toBeNull();
    expect(cancelled.request_counts).toEqual({ total: 2, completed: 0, failed: 2 });
    expect(cancelled.output_file_id).toBeNull();
    const errs = parseJsonl(
      await (await env.openai.files.content(cancelled.error_file_id as string)).text(),
    );
    expect(errs.map((e) => [e.custom_id, (e.error as { code: string }).code])).toEqual([
      ['c1', 'batch_cancelled'],
      ['c2', 'batch_cancelled'],
    ]);
    await runBatchJobs();
  });

  it('output files expire BATCH_RETENTION_DAYS after the batch ends, when the purge removes it', async () => {
    const file = await upload(env.openai, line('keep', 'mock-echo', 'short-lived'));
    const b = await env.openai.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const done = await pollUntilEnded(b.id);
    const out = await env.openai.files.retrieve(done.output_file_id as string);
    expect(out.expires_at).toBe((done.completed_at as number) + 30 * 86400);

    const uuid = await sql<{ batch_id: string }>`select batch_id from openai_batches
      where input_file_id = ${file.id}`.execute(env.s.testDb.db);
    const batchId = uuid.rows[0]?.batch_id as string;
    await sql`update batches set finished_at = now() - interval '30 days 1 minute'
      where id = ${batchId}::uuid`.execute(env.s.testDb.db);
    expect((await purgeStoredObjects(env.s.deps)).batches).toBeGreaterThanOrEqual(1);
    await expect(env.openai.batches.retrieve(b.id)).rejects.toMatchObject({ status: 404 });
    await expect(env.openai.files.retrieve(done.output_file_id as string)).rejects.toMatchObject({
      status: 404,
    });
    const items = await sql`select 1 from batch_items where batch_id = ${batchId}::uuid`.execute(
      env.s.testDb.db,
    );
    expect(items.rows).toHaveLength(0);
    // Billing stays: the item's request-log row is kept (LOG_RETENTION_DAYS governs it).
    const logged = await sql<{ n: number }>`select count(*)::int as n from request_logs
      where surface = 'batch' and user_id = ${env.user.id}::uuid`.execute(env.s.testDb.db);
    expect(logged.rows[0]?.n).toBeGreaterThan(0);
  });

  it("someone else's batch and its files are a 404", async () => {
    const file = await upload(env.openai, line('mine', 'mock-echo', 'private'));
    const b = await env.openai.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const done = await pollUntilEnded(b.id);
    const other = await createTestUser(env.s.testDb.db);
    const them = new OpenAI({ apiKey: other.apiKey, baseURL: `${env.url}/v1`, maxRetries: 0 });
    await expect(them.batches.retrieve(b.id)).rejects.toMatchObject({ status: 404 });
    await expect(them.batches.cancel(b.id)).rejects.toMatchObject({ status: 404 });
    await expect(them.files.retrieve(done.output_file_id as string)).rejects.toMatchObject({
      status: 404,
    });
    await expect(them.files.content(done.output_file_id as string)).rejects.toMatchObject({
      status: 404,
    });
    expect((await them.batches.list()).data).toHaveLength(0);
    // Nor can they run my file.
    await expect(
      them.batches.create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      }),
    ).rejects.toMatchObject({ status: 404 });
  });

  it('refuses a bad endpoint or window with a 400 in OpenAI shape, and writes nothing', async () => {
    const file = await upload(env.openai, line('e', 'mock-echo', 'x'));
    const count = async () =>
      (await sql<{ n: number }>`select count(*)::int as n from batches`.execute(env.s.testDb.db))
        .rows[0]?.n;
    const before = await count();
    const bad = await env.openai.batches
      .create({ input_file_id: file.id, endpoint: '/v1/embeddings', completion_window: '24h' })
      .catch((e: unknown) => e);
    expect(bad).toMatchObject({
      status: 400,
      error: { type: 'invalid_request_error', param: 'endpoint', code: 'bad_request' },
    });
    const window = await env.openai.batches
      .create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '1h' as '24h',
      })
      .catch((e: unknown) => e);
    expect(window).toMatchObject({ status: 400, error: { param: 'completion_window' } });
    const unknownModel = await upload(
      env.openai,
      [line('ok', 'mock-echo', 'x'), line('m', 'no-such-model', 'x')].join('\n'),
    );
    const model = await env.openai.batches
      .create({
        input_file_id: unknownModel.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      })
      .catch((e: unknown) => e);
    expect(model).toMatchObject({ status: 400, error: { param: 'input_file_id' } });
    expect((model as Error).message).toMatch(/input file line 2: body\.model: .*no-such-model/);
    await expect(env.openai.batches.retrieve('batch_nope')).rejects.toMatchObject({ status: 404 });
    expect(await count()).toBe(before);
  });

  it('counts each route by its template in the HTTP metrics', async () => {
    const count = await httpRouteCounts(env.s.app);
    expect(count('/v1/batches', 'POST')).toBeGreaterThanOrEqual(1);
    expect(count('/v1/batches', 'GET')).toBeGreaterThanOrEqual(1);
    expect(count('/v1/batches/{id}', 'GET')).toBeGreaterThanOrEqual(1);
    expect(count('/v1/batches/{id}/cancel', 'POST')).toBeGreaterThanOrEqual(1);
  });

  it("needs the 'batches' scope", async () => {
    const gatewayOnly = await createTestUser(env.s.testDb.db, { scopes: ['gateway'] });
    const c = new OpenAI({ apiKey: gatewayOnly.apiKey, baseURL: `${env.url}/v1`, maxRetries: 0 });
    await expect(c.batches.list()).rejects.toMatchObject({ status: 403 });
  });
});
