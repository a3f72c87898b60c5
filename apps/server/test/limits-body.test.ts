import { request as httpRequest } from 'node:http';
import { seedModels } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeTestServer,
  listen,
  requestLogRows,
  startTestServer,
  type TestServer,
} from './helpers.ts';

let s: TestServer;
let member: TestUser;
let base: string;

const MiB = 1024 * 1024;
const filler = (bytes: number) => 'x'.repeat(bytes);

beforeAll(async () => {
  s = await startTestServer();
  await seedModels(s.deps);
  member = await createTestUser(s.testDb.db);
  base = await listen(s.app);
});
afterAll(() => closeTestServer(s));

const auth = () => ({ authorization: `Bearer ${member.apiKey}` });

function chat(contentBytes: number) {
  return JSON.stringify({
    model: 'mock-echo',
    messages: [{ role: 'user', content: filler(contentBytes) }],
  });
}

/** A key create padded with an unknown field: under the limit it is parsed (and refused 400). */
function bigKey(name: string, bytes: number) {
  return JSON.stringify({ name, padding: filler(bytes) });
}

const post = (url: string, payload: string) =>
  s.app.inject({
    method: 'POST',
    url,
    headers: { ...auth(), 'content-type': 'application/json' },
    payload,
  });

/** A real chunked upload: no content-length, so only counting the bytes can enforce the limit. */
function postChunked(path: string, body: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : null });
        });
      },
    );
    req.on('error', reject);
    const buf = Buffer.from(body);
    const step = 64 * 1024;
    for (let i = 0; i < buf.length; i += step) req.write(buf.subarray(i, i + step));
    req.end();
  });
}

async function keyNames(): Promise<string[]> {
  const rows = await s.testDb.db
    .selectFrom('api_keys')
    .select('name')
    .where('user_id', '=', member.id)
    .execute();
  return rows.map((r) => r.name);
}

const logRows = () => requestLogRows(s);

const restTooLarge = { error: { code: 'payload_too_large', message: expect.any(String) } };
const trpcTooLarge = (path: string) => ({
  error: {
    message: expect.any(String),
    data: { code: 'PAYLOAD_TOO_LARGE', httpStatus: 413, path, reason: 'payload_too_large' },
  },
});

describe('REST body limits (/api)', () => {
  it('accepts a 1.5 MiB chat body but refuses 1.5 MiB on /api/keys', async () => {
    const ok = await post('/api/chat/completions', chat(1.5 * MiB));
    expect(ok.statusCode).toBe(200);
    expect(ok.json().content).toHaveLength(1.5 * MiB);

    const embed = await post(
      '/api/embeddings',
      JSON.stringify({ model: 'mock-embed', input: filler(1.5 * MiB) }),
    );
    expect(embed.statusCode).toBe(200);

    const keys = await post('/api/keys', bigKey('too-big', 1.5 * MiB));
    expect(keys.statusCode).toBe(413);
    expect(keys.json()).toMatchObject(restTooLarge);
    expect(await keyNames()).not.toContain('too-big');

    // Just under the default limit the body is read and validated: a 400, not a 413.
    const small = await post('/api/keys', bigKey('fits', 1000 * 1024));
    expect(small.statusCode).toBe(400);
    expect(small.json().error.code).toBe('bad_request');
  });

  it('refuses 21 MiB on /api/chat/completions and /api/embeddings, writing nothing', async () => {
    const before = await logRows();
    const res = await post('/api/chat/completions', chat(21 * MiB));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject(restTooLarge);
    const embed = await post(
      '/api/embeddings',
      JSON.stringify({ model: 'mock-embed', input: filler(21 * MiB) }),
    );
    expect(embed.statusCode).toBe(413);
    expect(embed.json()).toMatchObject(restTooLarge);
    expect(await logRows()).toBe(before);
  });

  it('counts real bytes of chunked bodies (no content-length)', async () => {
    const ok = await postChunked('/api/chat/completions', chat(1.5 * MiB));
    expect(ok.status).toBe(200);

    const keys = await postChunked('/api/keys', bigKey('chunked-big', 1.5 * MiB));
    expect(keys.status).toBe(413);
    expect(keys.json).toMatchObject(restTooLarge);
    expect(await keyNames()).not.toContain('chunked-big');

    const huge = await postChunked('/api/chat/completions', chat(21 * MiB));
    expect(huge.status).toBe(413);
    expect(huge.json).toMatchObject(restTooLarge);
  });
});

describe('tRPC body limits (/trpc)', () => {
  it('accepts 1.5 MiB on chat.complete and embeddings.create, refuses it on keys.create', async () => {
    const ok = await post('/trpc/chat.complete', chat(1.5 * MiB));
    expect(ok.statusCode).toBe(200);
    expect(ok.json().result.data.content).toHaveLength(1.5 * MiB);

    const embed = await post(
      '/trpc/embeddings.create',
      JSON.stringify({ model: 'mock-embed', input: filler(1.5 * MiB) }),
    );
    expect(embed.statusCode).toBe(200);

    const keys = await post('/trpc/keys.create', bigKey('trpc-big', 1.5 * MiB));
    expect(keys.statusCode).toBe(413);
    expect(keys.json()).toMatchObject(trpcTooLarge('keys.create'));
    expect(await keyNames()).not.toContain('trpc-big');
  });

  it('refuses 21 MiB on chat.complete in tRPC shape, writing nothing', async () => {
    const before = await logRows();
    const res = await post('/trpc/chat.complete', chat(21 * MiB));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject(trpcTooLarge('chat.complete'));
    expect(await logRows()).toBe(before);
  });

  it('a batch mixing a model call with another procedure gets the default limit', async () => {
    const body = JSON.stringify({ 0: JSON.parse(chat(1.5 * MiB)), 1: { name: 'batched' } });
    const res = await post('/trpc/chat.complete,keys.create?batch=1', body);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toHaveLength(2);
    expect(res.json()).toMatchObject([trpcTooLarge('chat.complete'), trpcTooLarge('keys.create')]);
    expect(await keyNames()).not.toContain('batched');
  });

  it('counts real bytes of chunked bodies on /trpc', async () => {
    const keys = await postChunked('/trpc/keys.create', bigKey('trpc-chunked', 1.5 * MiB));
    expect(keys.status).toBe(413);
    expect(keys.json).toMatchObject(trpcTooLarge('keys.create'));

    const huge = await postChunked('/trpc/embeddings.create', chat(21 * MiB));
    expect(huge.status).toBe(413);
    expect(huge.json).toMatchObject(trpcTooLarge('embeddings.create'));
  });
});
