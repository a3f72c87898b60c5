import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * The SSRF guard for URLs Tollgate calls on a user's behalf (batch webhooks; provider base URLs
 * reuse it). A URL passes when it is http(s) without credentials and every address its host
 * resolves to is public unicast — or the host or address is on the allow list. The request is
 * then made to the checked address itself (no second resolution: DNS rebinding gets nowhere),
 * without following redirects, with a timeout and a cap on the response size.
 */

/** Hosts and CIDRs let through despite the guard (WEBHOOK_ALLOW_HOSTS). */
export type AllowList = {
  hosts: ReadonlySet<string>;
  cidrs: readonly [ipaddr.IPv4 | ipaddr.IPv6, number][];
};

export type ResolvedAddress = { address: string; family: 4 | 6 };
/** Resolves a host name to every address (tests substitute one to play DNS). */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

export class SsrfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SsrfError';
  }
}

export const systemResolver: Resolver = async (host) => {
  const r = await dnsLookup(host, { all: true, verbatim: true });
  return r.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** Parses `WEBHOOK_ALLOW_HOSTS` entries: host names, addresses, CIDRs. */
export function parseAllowList(entries: readonly string[]): AllowList {
  const hosts = new Set<string>();
  const cidrs: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  for (const raw of entries) {
    const e = raw.trim().toLowerCase();
    if (!e) continue;
    if (e.includes('/')) cidrs.push(ipaddr.parseCIDR(e));
    else if (ipaddr.isValid(e)) {
      const a = ipaddr.parse(e);
      cidrs.push([a, a.kind() === 'ipv4' ? 32 : 128]);
    } else hosts.add(e.replace(/\.$/, ''));
  }
  return { hosts, cidrs };
}

function allowedAddress(a: ipaddr.IPv4 | ipaddr.IPv6, allow: AllowList): boolean {
  return allow.cidrs.some(([net, bits]) => a.kind() === net.kind() && a.match(net, bits));
}

/**
 * Why an address may not be called, or null when it is public unicast. IPv4-mapped IPv6 is judged
 * as the IPv4 address it carries; every other special range (loopback, private, link-local and
 * the metadata address in it, CGNAT, multicast, unspecified, reserved, NAT64, 6to4, Teredo,
 * unique-local) is refused.
 */
export function refusedRange(address: string): string | null {
  let a: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    a = ipaddr.parse(address);
  } catch {
    return 'not an IP address';
  }
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) {
    a = (a as ipaddr.IPv6).toIPv4Address();
  }
  const range = a.range();
  return range === 'unicast' ? null : range;
}

export type CheckedUrl = { url: URL; addresses: ResolvedAddress[] };

/**
 * Checks a URL and resolves its host; throws SsrfError saying why it is refused. Host spellings
 * (decimal, octal, hex IPv4) are normalised by the WHATWG URL parser before the check.
 */
export async function checkUrl(
  input: string,
  opts: { allow: AllowList; resolve?: Resolver },
): Promise<CheckedUrl> {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new SsrfError('not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SsrfError('only http and https URLs are allowed');
  }
  if (url.username || url.password) throw new SsrfError('credentials in the URL are not allowed');
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const hostAllowed = opts.allow.hosts.has(host.replace(/\.$/, ''));
  let addresses: ResolvedAddress[];
  if (ipaddr.isValid(host)) {
    addresses = [{ address: host, family: ipaddr.parse(host).kind() === 'ipv6' ? 6 : 4 }];
  } else {
    try {
      addresses = await (opts.resolve ?? systemResolver)(host);
    } catch {
      throw new SsrfError(`host '${host}' does not resolve`);
    }
    if (addresses.length === 0) throw new SsrfError(`host '${host}' does not resolve`);
  }
  if (!hostAllowed) {
    // Every address must pass: a name with one public and one private record is refused.
    for (const a of addresses) {
      const parsed = ipaddr.parse(a.address);
      if (allowedAddress(parsed, opts.allow)) continue;
      const why = refusedRange(a.address);
      if (why !== null) {
        throw new SsrfError(`address ${a.address} of '${host}' is not public (${why})`);
      }
    }
  }
  return { url, addresses };
}

/** A `lookup` for http(s).request / net.connect that answers with already-checked addresses. */
export function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  const first = addresses[0];
  if (!first) throw new SsrfError('no address to connect to');
  return ((_host: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    if (options?.all)
      cb(
        null,
        addresses.map((a) => ({ address: a.address, family: a.family })),
      );
    else cb(null, first.address, first.family);
  }) as LookupFunction;
}

export type GuardedResponse = { status: number; body: string };

/**
 * POSTs (or any method) to a URL through the guard: checked, pinned to the checked address, no
 * redirects (a 3xx is returned as is), `timeoutMs` for the whole exchange, at most `maxBytes`
 * of response body read.
 */
export async function guardedRequest(
  input: string,
  req: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    allow: AllowList;
    resolve?: Resolver;
    timeoutMs?: number;
    maxBytes?: number;
  },
): Promise<GuardedResponse> {
  const { url, addresses } = await checkUrl(input, {
    allow: req.allow,
    ...(req.resolve ? { resolve: req.resolve } : {}),
  });
  const timeoutMs = req.timeoutMs ?? 10_000;
  const maxBytes = req.maxBytes ?? 64 * 1024;
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise<GuardedResponse>((resolve, reject) => {
    const r = mod.request(
      url,
      {
        method: req.method ?? 'POST',
        headers: req.headers,
        lookup: pinnedLookup(addresses),
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        let size = 0;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            r.destroy();
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
            });
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    const timer = setTimeout(
      () => r.destroy(new Error(`timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    r.on('close', () => clearTimeout(timer));
    r.on('timeout', () => r.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    r.on('error', reject);
    r.end(req.body);
  });
}
