import { connect } from 'node:net';
import { seedModels } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../src/json-depth.ts';
import { closeTestServer, listen, startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;
let member: TestUser;
let base: string;

beforeAll(async () => {
  s = await startTestServer();
  await seedModels(s.deps);
  member = await createTestUser(s.testDb.db);
  base = await listen(s.app);
});
afterAll(() => closeTestServer(s));

const MiB = 1024 * 1024;
/** The error bodies of every surface, loosely: REST/OpenAI `code`, Anthropic `type`, tRPC `data.code`. */
type ErrorBody = { error: { code?: string; type?: string; data?: { code?: string } } };

const auth = () => ({
  authorization: `Bearer ${member.apiKey}`,
  'content-type': 'application/json',
});

/** `{"name":"deep","padding":[[[…]]]}` with `depth` levels of arrays (objects when `objects`). */
function deepBody(depth: number, objects = false): string {
  const open = objects ? '{"a":'.repeat(depth) : '['.repeat(depth);
  const close = objects ? '}'.repeat(depth) : ']'.repeat(depth);
  return `{"name":"deep","model":"mock-echo","messages":${open}${objects ? '1' : ''}${close}}`;
}

async function keyCount(): Promise<number> {
  const rows = await s.testDb.db
    .selectFrom('api_keys')
    .select('id')
    .where('user_id', '=', member.id)
    .execute();
  return rows.length;
}

describe('deeply nested JSON', () => {
  const surfaces = [
    ['/api/keys', (b: ErrorBody) => b.error.code],
    ['/api/chat/completions', (b: ErrorBody) => b.error.code],
    ['/trpc/keys.create', (b: ErrorBody) => b.error.data?.code],
    ['/v1/chat/completions', (b: ErrorBody) => b.error.code],
    ['/v1/messages', (b: ErrorBody) => b.error.type],
  ] as const;
  for (const [path, codeOf] of surfaces) {
    it(`100,000 levels on ${path} → 400 in the surface's shape, nothing written`, async () => {
      const before = await keyCount();
      for (const objects of [false, true]) {
        const res = await fetch(`${base}${path}`, {
          method: 'POST',
          headers: auth(),
          body: deepBody(100_000, objects),
        });
        expect(res.status).toBe(400);
        const body = (await res.json()) as ErrorBody;
        expect(codeOf(body)).toMatch(/^(bad_request|BAD_REQUEST|invalid_request_error)$/);
        expect(JSON.stringify(body)).toContain(`deeper than ${MAX_JSON_DEPTH}`);
      }
      expect(await keyCount()).toBe(before);
    });
  }

  it('nesting up to the limit is parsed as usual (the procedure answers, not the guard)', async () => {
    // Nested arrays inside a message's content: zod refuses the shape, not the depth.
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: auth(),
      body: deepBody(MAX_JSON_DEPTH - 1),
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).not.toContain('deeper than');
    // Brackets inside strings do not count.
    const ok = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: auth(),
      body: JSON.stringify({
        model: 'mock-echo',
        messages: [{ role: 'user', content: `${'['.repeat(1000)}"\\"{{{` }],
      }),
    });
    expect(ok.status).toBe(200);
    const answer = (await ok.json()) as { choices: { message: { content: string } }[] };
    expect(answer.choices[0]?.message.content).toBe(`${'['.repeat(1000)}"\\"{{{`);
  });
});

/** fetch with a streamed (chunked) body of `total` bytes that never declares its length. */
async function postStreamed(path: string, total: number) {
  const chunk = new Uint8Array(64 * 1024).fill(0x78);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode('{"model":"mock-echo","name":"x","messages":"'));
    },
    pull(c) {
      if (sent >= total) return c.close();
      sent += chunk.length;
      c.enqueue(chunk);
    },
  });
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: auth(),
    body,
    duplex: 'half',
  } as RequestInit);
  return { status: res.status, body: (await res.json()) as ErrorBody };
}

describe('over-limit chunked uploads', () => {
  it('50 MB to a 1 MiB route: the client reads its 413 (no EPIPE), nothing written', async () => {
    const before = await keyCount();
    const rest = await postStreamed('/api/keys', 50 * MiB);
    expect(rest.status).toBe(413);
    expect(rest.body.error.code).toBe('payload_too_large');
    const trpc = await postStreamed('/trpc/keys.create', 50 * MiB);
    expect(trpc.status).toBe(413);
    expect(trpc.body.error.data?.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await keyCount()).toBe(before);
  });
});

/** Writes `head` on a raw socket; resolves with everything the server sent before closing. */
function rawExchange(url: string, write: (sock: ReturnType<typeof connect>) => void) {
  const { port } = new URL(url);
  return new Promise<string>((resolve, reject) => {
    const sock = connect(Number(port), '127.0.0.1', () => write(sock));
    let got = '';
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
    });
    sock.on('error', (e) => (got ? resolve(got) : reject(e)));
    sock.on('close', () => resolve(got));
  });
}

describe('header floods and slow clients', () => {
  it('a header block over 16 KiB → 431 and the connection closed', async () => {
    const answer = await rawExchange(base, (sock) => {
      sock.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Flood: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
  });

  it('headers trickled slower than HTTP_HEADERS_TIMEOUT_MS → 408 and closed', async () => {
    const slow = await startTestServer({ HTTP_HEADERS_TIMEOUT_MS: '500' });
    try {
      const slowBase = await listen(slow.app);
      let timer: NodeJS.Timeout | undefined;
      const answer = await rawExchange(slowBase, (sock) => {
        sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
        // One header byte every 100 ms, forever: only the server's timeout ends this.
        timer = setInterval(() => sock.writable && sock.write('X-Slow: a\r\n'), 100);
      });
      clearInterval(timer);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      // Other clients are served meanwhile and after.
      expect((await fetch(`${slowBase}/healthz`)).status).toBe(200);
    } finally {
      await closeTestServer(slow);
    }
  });
});
