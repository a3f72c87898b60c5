import { purgeStoredObjects } from '@tollgate/core';
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

const line = (customId: string, text: string) =>
  JSON.stringify({
    custom_id: customId,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'mock-echo', messages: [{ role: 'user', content: text }] },
  });

const jsonl = `${line('a', 'first')}\n${line('b', 'second')}\n`;

async function fileCount(): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from files`.execute(
    env.s.testDb.db,
  );
  return rows[0]?.n ?? 0;
}

describe('OpenAI Files through the official openai SDK', () => {
  it('uploads a batch JSONL file, reads it back, lists it and deletes it', async () => {
    const created = await env.openai.files.create({
      file: await toFile(Buffer.from(jsonl), 'requests.jsonl'),
      purpose: 'batch',
    });
    expect(created).toMatchObject({
      object: 'file',
      purpose: 'batch',
      filename: 'requests.jsonl',
      bytes: Buffer.byteLength(jsonl),
      status: 'processed',
    });
    expect(created.id).toMatch(/^file-/);

    expect(await env.openai.files.retrieve(created.id)).toMatchObject({ id: created.id });
    const content = await env.openai.files.content(created.id);
    expect(await content.text()).toBe(jsonl);
    const list = await env.openai.files.list({ purpose: 'batch' });
    expect(list.data.map((f) => f.id)).toContain(created.id);

    expect(await env.openai.files.delete(created.id)).toMatchObject({
      id: created.id,
      deleted: true,
    });
    await expect(env.openai.files.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
  });

  it('shows expires_at (FILES_RETENTION_DAYS after upload); an expired file is gone everywhere', async () => {
    const f = await env.openai.files.create({
      file: await toFile(Buffer.from(jsonl), 'expiring.jsonl'),
      purpose: 'batch',
    });
    expect(f.expires_at).toBe(f.created_at + 30 * 86400);
    expect((await env.openai.files.retrieve(f.id)).expires_at).toBe(f.created_at + 30 * 86400);
    await sql`update files set created_at = now() - interval '30 days 1 minute' where id = ${f.id}`.execute(
      env.s.testDb.db,
    );
    await expect(env.openai.files.retrieve(f.id)).rejects.toMatchObject({ status: 404 });
    await expect(env.openai.files.content(f.id)).rejects.toMatchObject({ status: 404 });
    expect((await env.openai.files.list()).data.map((x) => x.id)).not.toContain(f.id);
    await expect(
      env.openai.batches.create({
        input_file_id: f.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      }),
    ).rejects.toMatchObject({ status: 404 });
    expect((await purgeStoredObjects(env.s.deps)).files).toBeGreaterThanOrEqual(1);
    const left = await sql`select 1 from files where id = ${f.id}`.execute(env.s.testDb.db);
    expect(left.rows).toHaveLength(0);
  });

  it('counts each route by its template in the HTTP metrics', async () => {
    const f = await env.openai.files.create({
      file: await toFile(Buffer.from(jsonl), 'counted.jsonl'),
      purpose: 'batch',
    });
    await env.openai.files.list();
    await env.openai.files.retrieve(f.id);
    await (await env.openai.files.content(f.id)).text();
    await env.openai.files.delete(f.id);
    const count = await httpRouteCounts(env.s.app);
    expect(count('/v1/files', 'POST')).toBeGreaterThanOrEqual(1);
    expect(count('/v1/files', 'GET')).toBeGreaterThanOrEqual(1);
    expect(count('/v1/files/{id}', 'GET')).toBeGreaterThanOrEqual(1);
    expect(count('/v1/files/{id}/content', 'GET')).toBeGreaterThanOrEqual(1);
    expect(count('/v1/files/{id}', 'DELETE')).toBeGreaterThanOrEqual(1);
  });

  it("someone else's file is a 404 for every operation", async () => {
    const mine = await env.openai.files.create({
      file: await toFile(Buffer.from(jsonl), 'mine.jsonl'),
      purpose: 'batch',
    });
    const other = await createTestUser(env.s.testDb.db);
    const them = new OpenAI({ apiKey: other.apiKey, baseURL: `${env.url}/v1`, maxRetries: 0 });
    await expect(them.files.retrieve(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(them.files.content(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(them.files.delete(mine.id)).rejects.toMatchObject({ status: 404 });
    expect((await them.files.list()).data).toHaveLength(0);
    expect((await env.openai.files.retrieve(mine.id)).id).toBe(mine.id);
  });

  it('refuses bad uploads with a 400 naming the line, and stores nothing', async () => {
    const before = await fileCount();
    const bad = [
      { body: `${line('a', 'x')}\nnot json\n`, message: /line 2: not valid JSON/ },
      { body: `${line('a', 'x')}\n${line('a', 'y')}\n`, message: /duplicate custom_id 'a'/ },
      {
        body: JSON.stringify({ custom_id: 'a', method: 'POST', url: '/v1/embeddings', body: {} }),
        message: /url must be \/v1\/chat\/completions/,
      },
      { body: '\n\n', message: /no requests/ },
    ];
    for (const b of bad) {
      const err = await env.openai.files
        .create({ file: await toFile(Buffer.from(b.body), 'bad.jsonl'), purpose: 'batch' })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 400, error: { param: 'file', code: 'bad_request' } });
      expect((err as Error).message).toMatch(b.message);
    }
    const wrongPurpose = await env.openai.files
      .create({ file: await toFile(Buffer.from(jsonl), 'x.jsonl'), purpose: 'assistants' })
      .catch((e: unknown) => e);
    expect(wrongPurpose).toMatchObject({ status: 400, error: { param: 'purpose' } });
    expect(await fileCount()).toBe(before);
  });

  it("needs the 'batches' scope, not 'gateway'", async () => {
    const batchesOnly = await createTestUser(env.s.testDb.db, { scopes: ['batches'] });
    const gatewayOnly = await createTestUser(env.s.testDb.db, { scopes: ['gateway'] });
    const ok = new OpenAI({ apiKey: batchesOnly.apiKey, baseURL: `${env.url}/v1`, maxRetries: 0 });
    const refused = new OpenAI({
      apiKey: gatewayOnly.apiKey,
      baseURL: `${env.url}/v1`,
      maxRetries: 0,
    });
    const f = await ok.files.create({
      file: await toFile(Buffer.from(jsonl), 'scoped.jsonl'),
      purpose: 'batch',
    });
    expect(f.id).toMatch(/^file-/);
    await expect(refused.files.list()).rejects.toMatchObject({
      status: 403,
      error: { type: 'permission_error' },
    });
  });

  it('needs credentials', async () => {
    const res = await fetch(`${env.url}/v1/files`, { method: 'GET' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { type: 'authentication_error' } });
  });
});
