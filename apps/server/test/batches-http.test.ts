import { type BatchChunk, processBatchChunk, seedModels } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;
let member: TestUser;
let other: TestUser;
let readOnly: TestUser;

beforeAll(async () => {
  s = await startTestServer();
  await seedModels(s.deps);
  member = await createTestUser(s.testDb.db);
  other = await createTestUser(s.testDb.db);
  readOnly = await createTestUser(s.testDb.db, { scopes: ['read'] });
});
afterAll(() => closeTestServer(s));

const line = (content: string, customId?: string) =>
  JSON.stringify({
    model: 'mock-echo',
    messages: [{ role: 'user', content }],
    ...(customId ? { customId } : {}),
  });

function post(
  user: TestUser,
  payload: string,
  opts: { type?: string; key?: string; url?: string } = {},
) {
  return s.app.inject({
    method: 'POST',
    url: opts.url ?? '/api/batches',
    headers: {
      authorization: `Bearer ${user.apiKey}`,
      'content-type': opts.type ?? 'application/x-ndjson',
      ...(opts.key ? { 'idempotency-key': opts.key } : {}),
    },
    payload,
  });
}

async function countBatches(): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int as n from batches`.execute(s.testDb.db);
  return r.rows[0]?.n ?? 0;
}

/** Runs the batch's chunk jobs in this process, as the worker would. */
async function runBatchJobs(): Promise<void> {
  const jobs = await sql<{ id: string; payload: BatchChunk }>`select j.id, j.payload
    from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
    where t.identifier = 'batch_chunk' order by j.id`.execute(s.testDb.db);
  for (const j of jobs.rows) {
    await processBatchChunk(s.deps, j.payload, { id: j.id, signal: new AbortController().signal });
    await sql`delete from graphile_worker._private_jobs where id = ${j.id}`.execute(s.testDb.db);
  }
}

describe('POST /api/batches', () => {
  it('validates all 50,000 lines first: bad line 40,001 → 400 naming it, nothing written', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 50_000; i++) lines.push(line(`item ${i}`));
    lines[40_000] = JSON.stringify({ model: 'mock-echo', messages: [] });
    const before = await countBatches();
    const res = await post(member, lines.join('\n'));
    expect(res.statusCode).toBe(400);
    const body = res.json() as { error: { code: string; message: string } };
    expect(body.error.code).toBe('bad_request');
    expect(body.error.message).toMatch(/^line 40001 \(item 40000\): messages/);
    expect(await countBatches()).toBe(before);
    const items = await sql<{ n: number }>`select count(*)::int as n from batch_items`.execute(
      s.testDb.db,
    );
    expect(items.rows[0]?.n).toBe(0);
  });

  it('an unknown model is a validation error naming its line', async () => {
    const body = [
      line('a'),
      JSON.stringify({ model: 'nope', messages: [{ role: 'user', content: 'b' }] }),
    ];
    const res = await post(member, `${body.join('\n')}\n`);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      error: { code: 'bad_request', message: expect.stringMatching(/^line 2 \(item 1\)\.model: /) },
    });
  });

  it('JSONL with an Idempotency-Key: the same body gives the same batch; another body 422', async () => {
    const body = [line('first', 'a'), line('second', 'b'), line('third', 'c')].join('\n');
    const one = await post(member, body, { key: 'upload-1' });
    expect(one.statusCode).toBe(200);
    const batch = one.json() as { id: string; status: string; counts: { total: number } };
    expect(batch).toMatchObject({ status: 'queued', counts: { total: 3 } });
    const two = await post(member, body, { key: 'upload-1' });
    expect(two.statusCode).toBe(200);
    expect((two.json() as { id: string }).id).toBe(batch.id);
    // The same items as a JSON body are the same request.
    const asJson = await post(
      member,
      JSON.stringify({ items: body.split('\n').map((l) => JSON.parse(l)) }),
      { key: 'upload-1', type: 'application/json' },
    );
    expect((asJson.json() as { id: string }).id).toBe(batch.id);
    const different = await post(member, line('other'), { key: 'upload-1' });
    expect(different.statusCode).toBe(422);
    expect(different.json()).toMatchObject({ error: { code: 'unprocessable' } });

    await runBatchJobs();
    const res = await s.app.inject({
      method: 'GET',
      url: `/api/batches/${batch.id}/results`,
      headers: { authorization: `Bearer ${member.apiKey}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const results = res.body
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            index: number;
            customId: string;
            status: string;
            response: { content: string };
          },
      );
    expect(results.map((r) => [r.index, r.customId, r.status, r.response.content])).toEqual([
      [0, 'a', 'succeeded', 'first'],
      [1, 'b', 'succeeded', 'second'],
      [2, 'c', 'succeeded', 'third'],
    ]);

    const got = await s.app.inject({
      method: 'GET',
      url: `/api/batches/${batch.id}`,
      headers: { authorization: `Bearer ${member.apiKey}` },
    });
    expect(got.json()).toMatchObject({ status: 'completed', counts: { succeeded: 3 } });
    const list = await s.app.inject({
      method: 'GET',
      url: '/api/batches?limit=10',
      headers: { authorization: `Bearer ${member.apiKey}` },
    });
    expect((list.json() as { items: { id: string }[] }).items.map((b) => b.id)).toContain(batch.id);

    // Someone else's batch: 404, exactly like a missing one.
    for (const url of [`/api/batches/${batch.id}`, `/api/batches/${batch.id}/results`]) {
      const theirs = await s.app.inject({
        method: 'GET',
        url,
        headers: { authorization: `Bearer ${other.apiKey}` },
      });
      expect(theirs.statusCode, url).toBe(404);
      expect(theirs.json(), url).toMatchObject({ error: { code: 'not_found' } });
    }
  });

  it('a JSON body over 1 MiB is accepted on this route; bad items name their index', async () => {
    const big = 'x'.repeat(2000);
    const items = Array.from({ length: 700 }, (_, i) => JSON.parse(line(`${big} ${i}`)));
    const ok = await post(member, JSON.stringify({ items }), { type: 'application/json' });
    expect(ok.statusCode).toBe(200);
    const id = (ok.json() as { id: string }).id;
    const cancel = await s.app.inject({
      method: 'POST',
      url: `/api/batches/${id}/cancel`,
      headers: { authorization: `Bearer ${member.apiKey}`, 'content-type': 'application/json' },
      payload: '{}',
    });
    expect(cancel.statusCode).toBe(200);
    expect(cancel.json()).toMatchObject({ status: 'cancelled', counts: { cancelled: 700 } });

    const bad = await post(
      member,
      JSON.stringify({ items: [JSON.parse(line('ok')), { model: 'mock-echo' }] }),
      { type: 'application/json' },
    );
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({
      error: { code: 'bad_request', message: expect.stringMatching(/^items\[1\]\.messages/) },
    });
  });

  it('needs the batches scope to submit; read is enough to list', async () => {
    const res = await post(readOnly, line('nope'));
    expect(res.statusCode).toBe(403);
    const list = await s.app.inject({
      method: 'GET',
      url: '/api/batches',
      headers: { authorization: `Bearer ${readOnly.apiKey}` },
    });
    expect(list.statusCode).toBe(200);
    const anon = await s.app.inject({
      method: 'POST',
      url: '/api/batches',
      headers: { 'content-type': 'application/x-ndjson' },
      payload: line('x'),
    });
    expect(anon.statusCode).toBe(401);
  });

  it('POST /api/webhooks/secret returns a new secret each time', async () => {
    const a = await s.app.inject({
      method: 'POST',
      url: '/api/webhooks/secret',
      headers: { authorization: `Bearer ${member.apiKey}`, 'content-type': 'application/json' },
      payload: '{}',
    });
    expect(a.statusCode).toBe(200);
    const b = await s.app.inject({
      method: 'POST',
      url: '/api/webhooks/secret',
      headers: { authorization: `Bearer ${member.apiKey}`, 'content-type': 'application/json' },
      payload: '{}',
    });
    const sa = (a.json() as { secret: string }).secret;
    expect(sa).toMatch(/^whsec_/);
    expect((b.json() as { secret: string }).secret).not.toBe(sa);
  });
});
