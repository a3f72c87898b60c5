import { Readable } from 'node:stream';
import { createUpstreamHttp, readBody, upstreamTarget } from './upstream-http.ts';

/**
 * A `fetch` for the Anthropic SDK (its documented `fetch` option) over upstream-http.ts, with one
 * keep-alive agent per SDK client. The SDK stays as it is; only the transport changes (why:
 * upstream-http.ts).
 *
 * Behaviour kept from fetch: a real `Response` (status, headers, body); a JSON body is read in
 * full before resolving, an event stream is handed over as a live byte stream; the signal aborts
 * the socket at any time (before or after headers) and rejects/errors with the signal's reason;
 * anything this transport does not handle (a non-HTTP URL, a streamed or form request body) goes
 * to the global fetch unchanged.
 */
export type HttpFetch = typeof fetch & { close(): void };

const EVENT_STREAM = /^text\/event-stream/i;

type HeadersInit = ConstructorParameters<typeof Headers>[0];

function headerRecord(h: HeadersInit): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  if (h instanceof Headers) {
    h.forEach((v, k) => {
      out[k] = v;
    });
  } else if (Array.isArray(h)) {
    for (const [k, v] of h as [string, string][]) out[k.toLowerCase()] = v;
  } else {
    for (const [k, v] of Object.entries(h as Record<string, string>)) out[k.toLowerCase()] = v;
  }
  return out;
}

function responseHeaders(raw: readonly string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2)
    headers.append(raw[i] as string, raw[i + 1] as string);
  return headers;
}

/**
 * A Response whose body is already in memory. The readers the SDKs use (text, json, arrayBuffer,
 * bytes, blob) answer from the bytes directly: wrapping them in a web stream first, as
 * `new Response(bytes)` does, cost ~2% of a gateway request's CPU for nothing. `body` stays null
 * (a "bodyless custom response", which both SDKs handle): they read JSON through text().
 */
function wholeBody(bytes: Buffer, init: ResponseInit): Response {
  const res = new Response(null, init);
  let used = false;
  const take = <T>(read: () => T): Promise<T> => {
    if (used) return Promise.reject(new TypeError('Body is unusable: Body has already been read'));
    used = true;
    try {
      return Promise.resolve(read());
    } catch (err) {
      return Promise.reject(err);
    }
  };
  const copy = () => new Uint8Array(bytes);
  Object.defineProperties(res, {
    text: { value: () => take(() => bytes.toString('utf8')) },
    json: { value: () => take(() => JSON.parse(bytes.toString('utf8')) as unknown) },
    arrayBuffer: { value: () => take(() => copy().buffer) },
    bytes: { value: () => take(copy) },
    blob: {
      value: () => take(() => new Blob([copy()], { type: res.headers.get('content-type') ?? '' })),
    },
    bodyUsed: { get: () => used },
  });
  return res;
}

/** Fetch over node:http(s) with keep-alive agents; `close()` drops the pooled sockets. */
export function createHttpFetch(): HttpFetch {
  const upstream = createUpstreamHttp();

  const impl = async (
    input: Parameters<typeof fetch>[0],
    init: RequestInit = {},
  ): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : undefined;
    const body = init.body;
    const plainBody = body == null || typeof body === 'string' || body instanceof Uint8Array;
    const httpUrl = url?.startsWith('https:') || url?.startsWith('http:');
    if (url === undefined || !plainBody || !httpUrl) return fetch(input, init);
    const signal = init.signal ?? undefined;
    const method = init.method ?? 'GET';
    const res = await upstream.send(upstreamTarget(url), {
      method,
      headers: headerRecord(init.headers),
      body: body ?? undefined,
      signal,
    });
    const status = res.statusCode ?? 502;
    const base = {
      status,
      statusText: res.statusMessage ?? '',
      headers: responseHeaders(res.rawHeaders),
    };
    const noBody = status === 204 || status === 304 || method === 'HEAD';
    if (noBody) {
      res.resume();
      return new Response(null, base);
    }
    // An event stream: a live body; the signal keeps aborting the socket (upstream-http.ts).
    if (EVENT_STREAM.test(res.headers['content-type'] ?? '')) {
      return new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, base);
    }
    // A whole body (JSON, an error): read here, handed over as a finished Response.
    return wholeBody(await readBody(res, signal), base);
  };

  return Object.assign(impl as typeof fetch, { close: () => upstream.close() });
}
