import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkUrl, guardedRequest, parseAllowList, refusedRange, SsrfError } from './ssrf-guard.ts';

const none = parseAllowList([]);

describe('refusedRange', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.0.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['224.0.0.1', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fd00:ec2::254', 'uniqueLocal'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'linkLocal'],
    ['64:ff9b::7f00:1', 'rfc6052'],
  ])('%s is refused (%s)', (address, range) => {
    expect(refusedRange(address)).toBe(range);
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    '%s is public',
    (address) => {
      expect(refusedRange(address)).toBeNull();
    },
  );
});

describe('checkUrl', () => {
  it.each([
    'http://2130706433/', // decimal 127.0.0.1
    'http://0x7f000001/', // hex
    'http://0177.0.0.1/', // octal
    'http://127.1/', // short form
    'http://[::ffff:7f00:1]/', // IPv4-mapped, hex groups
    'http://[0:0:0:0:0:ffff:127.0.0.1]/',
  ])('refuses the loopback spelling %s', async (url) => {
    await expect(checkUrl(url, { allow: none })).rejects.toBeInstanceOf(SsrfError);
  });

  it('refuses a name when any of its addresses is private', async () => {
    const resolve = async () => [
      { address: '93.184.216.34', family: 4 as const },
      { address: '10.0.0.7', family: 4 as const },
    ];
    await expect(checkUrl('https://mixed.example.test/', { allow: none, resolve })).rejects.toThrow(
      /10\.0\.0\.7/,
    );
  });

  it('lets listed hosts and CIDRs through, nothing else', async () => {
    const allow = parseAllowList(['hooks.internal', '10.20.0.0/16', '::1']);
    const resolve = async () => [{ address: '10.99.0.1', family: 4 as const }];
    await expect(checkUrl('http://hooks.internal/x', { allow, resolve })).resolves.toMatchObject({
      addresses: [{ address: '10.99.0.1' }],
    });
    await expect(checkUrl('http://10.20.3.4/x', { allow })).resolves.toBeDefined();
    await expect(checkUrl('http://[::1]:8080/x', { allow })).resolves.toBeDefined();
    await expect(checkUrl('http://10.21.0.1/x', { allow })).rejects.toBeInstanceOf(SsrfError);
    await expect(checkUrl('http://other.internal/x', { allow, resolve })).rejects.toBeInstanceOf(
      SsrfError,
    );
  });

  it('refuses other schemes and credentials', async () => {
    await expect(checkUrl('file:///etc/passwd', { allow: none })).rejects.toThrow(/http/);
    await expect(checkUrl('gopher://example.com/', { allow: none })).rejects.toThrow(/http/);
    await expect(checkUrl('http://u:p@example.com/', { allow: none })).rejects.toThrow(
      /credentials/,
    );
  });
});

describe('guardedRequest', () => {
  let server: Server;
  let base: string;
  const allow = parseAllowList(['127.0.0.1']);
  let hits: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/redirect') {
        res.writeHead(302, { location: '/target' }).end();
      } else if (req.url === '/big') {
        res.writeHead(200);
        res.end('x'.repeat(200_000));
      } else if (req.url === '/slow') {
        setTimeout(() => res.end('late'), 2_000);
      } else {
        res.end('fine');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('connects to the checked address, whatever the name would resolve to later', async () => {
    hits = [];
    let calls = 0;
    const resolve = async () => {
      calls++;
      return [{ address: '127.0.0.1', family: 4 as const }];
    };
    const port = new URL(base).port;
    const res = await guardedRequest(`http://receiver.test:${port}/ok`, {
      allow: parseAllowList(['receiver.test']),
      resolve,
    });
    expect(res).toEqual({ status: 200, body: 'fine' });
    expect(calls).toBe(1); // resolved once, by the check; the connection used that answer
  });

  it('does not follow redirects', async () => {
    hits = [];
    const res = await guardedRequest(`${base}/redirect`, { allow, method: 'GET' });
    expect(res.status).toBe(302);
    expect(hits).toEqual(['/redirect']);
  });

  it('reads at most maxBytes of the answer', async () => {
    const res = await guardedRequest(`${base}/big`, { allow, method: 'GET', maxBytes: 1024 });
    expect(res.body.length).toBeLessThanOrEqual(1024);
  });

  it('gives up after timeoutMs', async () => {
    await expect(
      guardedRequest(`${base}/slow`, { allow, method: 'GET', timeoutMs: 200 }),
    ).rejects.toThrow(/timed out/);
  });

  it('refuses before connecting when the address is not allowed', async () => {
    hits = [];
    await expect(guardedRequest(`${base}/ok`, { allow: none })).rejects.toBeInstanceOf(SsrfError);
    expect(hits).toEqual([]);
  });
});
