import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpFetch } from './http-fetch.ts';

let url = '';
const closed: string[] = [];
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  res.on('close', () => {
    if (!res.writableFinished) closed.push(req.url ?? '');
  });
  if (req.url === '/json') {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-request-id': 'up-1' });
      res.end(JSON.stringify({ echo: body, auth: req.headers.authorization ?? null }));
    });
    return;
  }
  if (req.url === '/hang') return; // never answers
  if (req.url === '/sse') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: one\n\n'); // then stays open until the client leaves
  }
});

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('createHttpFetch', () => {
  const f = createHttpFetch();
  afterAll(() => f.close());

  it('answers a JSON call with a real Response whose body reads once', async () => {
    const res = await f(`${url}/json`, {
      method: 'POST',
      headers: new Headers({ authorization: 'Bearer x', 'content-type': 'application/json' }),
      body: '{"a":1}',
    });
    expect(res).toBeInstanceOf(Response);
    expect(res.status).toBe(201);
    expect(res.ok).toBe(true);
    expect(res.headers.get('x-request-id')).toBe('up-1');
    expect(await res.json()).toEqual({ echo: '{"a":1}', auth: 'Bearer x' });
    expect(res.bodyUsed).toBe(true);
    await expect(res.text()).rejects.toThrow(TypeError);
  });

  it('rejects with the signal reason and closes the socket when aborted before an answer', async () => {
    const ac = new AbortController();
    const pending = f(`${url}/hang`, { method: 'GET', signal: ac.signal });
    setTimeout(() => ac.abort(new DOMException('gone', 'TimeoutError')), 20);
    await expect(pending).rejects.toMatchObject({ name: 'TimeoutError' });
    await until(() => closed.includes('/hang'));
    expect(closed).toContain('/hang');
  });

  it('streams an event stream live and closes the socket when aborted mid-body', async () => {
    const ac = new AbortController();
    const res = await f(`${url}/sse`, { method: 'GET', signal: ac.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('data: one\n\n');
    ac.abort();
    await expect(reader.read()).rejects.toBeDefined();
    await until(() => closed.includes('/sse'));
    expect(closed).toContain('/sse');
  });

  it('rejects an already-aborted signal without connecting', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(f(`${url}/json`, { signal: ac.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('rejects when nothing listens', async () => {
    await expect(f('http://127.0.0.1:1/x', {})).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
