import ipaddr from 'ipaddr.js';
import { systemResolver } from '../net/ssrf-guard.ts';

/**
 * The safety check for provider connection base URLs (issue #16). Unlike webhooks, private
 * networks are legitimate here (an admin's vLLM or Ollama on 10.x or localhost); refused are
 * link-local addresses and the cloud metadata services, which hand out instance credentials.
 *
 * Shares DNS resolution and ipaddr.js with the webhook SSRF guard (net/ssrf-guard.ts), whose
 * refusal set (every non-public range) is deliberately stricter than this one.
 */

/** Cloud metadata endpoints outside link-local space (AWS IPv6, Alibaba, Azure wireserver). */
const METADATA_ADDRESSES = new Set(['fd00:ec2::254', '100.100.100.200', '168.63.129.16']);
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata', 'instance-data']);

export type Resolve = (host: string) => Promise<string[]>;

const systemResolve: Resolve = async (host) => (await systemResolver(host)).map((a) => a.address);

/** Why `address` may not be an upstream, or null when it may. */
export function refusedUpstreamAddress(address: string): string | null {
  let a: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    a = ipaddr.parse(address);
  } catch {
    return null;
  }
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) {
    a = (a as ipaddr.IPv6).toIPv4Address();
  }
  if (METADATA_ADDRESSES.has(a.toNormalizedString()) || METADATA_ADDRESSES.has(a.toString())) {
    return 'a cloud metadata address';
  }
  if (a.range() === 'linkLocal') return 'a link-local address';
  return null;
}

/**
 * Checks a base URL; resolves with null when acceptable or a sentence saying why not. Host names
 * are resolved: a name pointing at a refused address is refused too. A name that does not resolve
 * now is accepted (the upstream may be brought up later); each call connects to what it resolves
 * to then.
 */
export async function checkBaseUrl(
  input: string,
  resolve: Resolve = systemResolve,
): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return 'baseUrl must be an absolute http(s) URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return 'baseUrl must be an http or https URL';
  }
  if (url.username || url.password) return 'baseUrl must not carry credentials';
  if (url.search || url.hash) return 'baseUrl must not carry a query or fragment';
  const host = url.hostname
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
  if (METADATA_HOSTS.has(host)) return `baseUrl host '${host}' is a cloud metadata service`;
  let addresses: string[];
  if (ipaddr.isValid(host)) addresses = [host];
  else {
    try {
      addresses = await resolve(host);
    } catch {
      addresses = [];
    }
  }
  for (const a of addresses) {
    const why = refusedUpstreamAddress(a);
    if (why) return `baseUrl host '${host}' resolves to ${why} (${a})`;
  }
  return null;
}
