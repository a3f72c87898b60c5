import { once } from 'node:events';
import { connect } from 'node:net';
import { seedModels } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILE_UPLOAD_LIMIT } from '../src/compat/files.routes.ts';
import { MAX_JSON_DEPTH } from '../src/json-depth.ts';
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

/**
 * fetch with a streamed (chunked) body of `total` bytes after `head` that never declares its
 * length; the client keeps writing whatever the server answers, as a real SDK would.
 */
async function postStreamed(
  path: string,
  total: number,
  head = '{"model":"mock-echo","name":"x","messages":"',
  contentType = 'application/json',
) {
  const chunk = new Uint8Array(64 * 1024).fill(0x78);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode(head));
    },
    pull(c) {
      if (sent >= total) return c.close();
      sent += chunk.length;
      c.enqueue(chunk);
    },
  });
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { ...auth(), 'content-type': contentType },
    body,
    duplex: 'half',
  } as RequestInit);
  return { status: res.status, body: (await res.json()) as ErrorBody };
}

async function fileCount(): Promise<number> {
  const rows = await s.testDb.db.selectFrom('files').select('id').execute();
  return rows.length;
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

  it('50 MB to a 20 MiB model-call route: 413 in OpenAI and Anthropic shapes, nothing logged', async () => {
    const logged = await requestLogRows(s);
    const openai = await postStreamed('/v1/chat/completions', 50 * MiB);
    expect(openai.status).toBe(413);
    expect(openai.body.error.code).toBe('payload_too_large');
    const anthropic = await postStreamed('/v1/messages', 50 * MiB);
    expect(anthropic.status).toBe(413);
    expect(anthropic.body.error.type).toBe('request_too_large');
    expect(await requestLogRows(s)).toBe(logged);
    // The server is fine afterwards.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('a multipart upload past the 200 MiB of /v1/files: 413, no file stored', async () => {
    const boundary = 'tollgate-test-boundary';
    const head =
      `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n` +
      'Content-Type: application/jsonl\r\n\r\n';
    const before = await fileCount();
    const res = await postStreamed(
      '/v1/files',
      FILE_UPLOAD_LIMIT + 4 * MiB,
      head,
      `multipart/form-data; boundary=${boundary}`,
    );
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    expect(await fileCount()).toBe(before);
  });
});

/**
 * A raw socket exchange: `write` sends; resolves with everything the server sent, when it closes
 * or, given `until`, as soon as `until(received)` holds (the socket is then closed by us).
 */
function rawExchange(
  url: string,
  write: (sock: ReturnType<typeof connect>) => void,
  until?: (got: string) => boolean,
) {
  const { port } = new URL(url);
  return new Promise<string>((resolve, reject) => {
    const sock = connect(Number(port), '127.0.0.1', () => write(sock));
    let got = '';
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (until?.(got)) {
        resolve(got);
        sock.destroy();
      }
    });
    sock.on('error', (e) => (got ? resolve(got) : reject(e)));
    sock.on('close', () => resolve(got));
  });
}

type RawResponse = { status: number; headers: string; body: string };

/** The complete HTTP/1.1 responses (content-length framed) at the start of `got`. */
function responsesIn(got: string): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = got;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) return out;
    const headers = rest.slice(0, end).toLowerCase();
    const length = Number(/\r\ncontent-length: (\d+)/.exec(headers)?.[1] ?? 0);
    if (rest.length < end + 4 + length) return out;
    out.push({
      status: Number(headers.slice(9, 12)),
      headers,
      body: rest.slice(end + 4, end + 4 + length),
    });
    rest = rest.slice(end + 4 + length);
  }
}

describe('over-limit uploads on a raw connection', () => {
  const head = (path: string, framing: string, key = member.apiKey) =>
    `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n` +
    `Content-Type: application/json\r\n${framing}\r\n`;

  it('a declared content-length over the limit is answered 413 before any of the body is sent', async () => {
    const logged = await requestLogRows(s);
    const cases = [
      ['/v1/chat/completions', 50 * MiB, '20 MiB', (b: ErrorBody) => b.error.code],
      ['/v1/messages', 50 * MiB, '20 MiB', (b: ErrorBody) => b.error.type],
      // /v1/files takes up to 200 MiB; /v1/batches has the 1 MiB default.
      ['/v1/files', FILE_UPLOAD_LIMIT + 1, '200 MiB', (b: ErrorBody) => b.error.code],
      ['/v1/batches', 1 * MiB + 1, '1 MiB', (b: ErrorBody) => b.error.code],
    ] as const;
    for (const [path, length, limit, codeOf] of cases) {
      // Headers only: the answer can only come from the declared length.
      const got = await rawExchange(
        base,
        (sock) => sock.write(head(path, `Content-Length: ${length}\r\n`)),
        (g) => responsesIn(g).length === 1,
      );
      const [res] = responsesIn(got);
      expect(res?.status, path).toBe(413);
      expect(codeOf(JSON.parse(res?.body ?? '{}') as ErrorBody)).toMatch(
        /^(payload_too_large|request_too_large)$/,
      );
      expect(res?.body).toContain(`accepts at most ${limit}`);
    }
    expect(await requestLogRows(s)).toBe(logged);
  });

  it('after a chunked 413 the rest of the upload is read on the open connection, which then serves the next request', async () => {
    const chunk = Buffer.alloc(256 * 1024, 0x78);
    const framed = Buffer.concat([
      Buffer.from(`${chunk.length.toString(16)}\r\n`),
      chunk,
      Buffer.from('\r\n'),
    ]);
    const got = await rawExchange(
      base,
      async (sock) => {
        sock.write(head('/v1/messages', 'Transfer-Encoding: chunked\r\n'));
        // 25 MiB, past the 20 MiB limit, all of it sent whatever the server answers meanwhile.
        for (let sent = 0; sent < 25 * MiB; sent += chunk.length) {
          if (!sock.write(framed)) await once(sock, 'drain');
        }
        sock.write('0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      },
      (g) => responsesIn(g).length === 2,
    );
    const [refused, next] = responsesIn(got);
    expect(refused?.status).toBe(413);
    expect((JSON.parse(refused?.body ?? '{}') as ErrorBody).error.type).toBe('request_too_large');
    expect(refused?.headers).not.toContain('connection: close');
    expect(next?.status).toBe(200);
  });

  it('an upload past the limit that never ends is cut after HTTP_REQUEST_TIMEOUT_MS', async () => {
    const short = await startTestServer({ HTTP_REQUEST_TIMEOUT_MS: '1000' });
    try {
      const shortBase = await listen(short.app);
      const user = await createTestUser(short.testDb.db);
      const chunk = Buffer.alloc(1024 * 1024, 0x78);
      let timer: NodeJS.Timeout | undefined;
      const got = await rawExchange(shortBase, (sock) => {
        sock.write(head('/v1/batches', 'Transfer-Encoding: chunked\r\n', user.apiKey));
        sock.write(`${chunk.length.toString(16)}\r\n`);
        sock.write(chunk);
        sock.write('\r\n');
        // Then a chunk every 50 ms, forever: only the server's timeout ends this.
        timer = setInterval(() => sock.writable && sock.write('1\r\nx\r\n'), 50);
      });
      clearInterval(timer);
      // Its 413, and nothing after it (no second answer to the same request), then closed.
      expect(responsesIn(got).map((r) => r.status)).toEqual([413]);
      expect(got.endsWith('}')).toBe(true);
    } finally {
      await closeTestServer(short);
    }
  });
});

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
