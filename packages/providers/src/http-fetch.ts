import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

/**
 * A `fetch` for the provider SDKs (their documented `fetch` option) over node:http with one
 * keep-alive agent per SDK client. The SDKs stay as they are; only the transport changes.
 *
 * Why: the bench (bench/NOTES.md) measured Node's global fetch (undici's WHATWG machinery:
 * Request/Headers objects, web streams for every body) at ~100–150 µs of CPU per upstream call,
 * the largest single cost of a gateway request. node:http with a pooled socket costs a fraction.
 *
 * Behaviour kept from fetch: a real `Response` (status, headers, body); a JSON body is read in
 * full before resolving, an event stream is handed over as a live byte stream; the signal aborts
 * the socket at any time (before or after headers) and rejects/errors with the signal's reason;
 * anything this transport does not handle (a non-HTTP URL, a streamed or form request body) goes
 * to the global fetch unchanged.
 */
export type HttpFetch = typeof fetch & { close(): void };

const EVENT_STREAM = /^text\/event-stream/i;

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

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
  const agents = {
    'http:': new http.Agent({ keepAlive: true, scheduling: 'lifo' }),
    'https:': new https.Agent({ keepAlive: true, scheduling: 'lifo' }),
  };

  const impl = (input: Parameters<typeof fetch>[0], init: RequestInit = {}): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : undefined;
    const body = init.body;
    const plainBody = body == null || typeof body === 'string' || body instanceof Uint8Array;
    const scheme = url?.startsWith('https:') ? 'https:' : url?.startsWith('http:') ? 'http:' : '';
    if (url === undefined || !plainBody || scheme === '') return fetch(input, init);
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(abortReason(signal));

    return new Promise<Response>((resolve, reject) => {
      const send = scheme === 'https:' ? https.request : http.request;
      const headers = headerRecord(init.headers);
      if (body != null && headers['content-length'] === undefined) {
        headers['content-length'] = String(
          typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
        );
      }
      const req = send(url, { method: init.method ?? 'GET', headers, agent: agents[scheme] });
      let settled = false;
      let live: http.IncomingMessage | undefined;
      const onAbort = () => {
        const reason = abortReason(signal as AbortSignal);
        // Before the answer: reject. During a streamed body: error it. Either way the socket goes.
        if (live) live.destroy(reason instanceof Error ? reason : new Error('aborted'));
        req.destroy();
        fail(reason);
      };
      const cleanup = () => signal?.removeEventListener('abort', onAbort);
      function fail(err: unknown) {
        if (settled) return;
        settled = true;
        cleanup();
        reject(err);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => fail(signal?.aborted ? abortReason(signal) : err));
      req.on('response', (res) => {
        const status = res.statusCode ?? 502;
        const base = {
          status,
          statusText: res.statusMessage ?? '',
          headers: responseHeaders(res.rawHeaders),
        };
        const noBody = status === 204 || status === 304 || init.method === 'HEAD';
        if (noBody || !EVENT_STREAM.test(res.headers['content-type'] ?? '')) {
          // A whole body (JSON, an error): read it here, hand over a finished Response.
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => fail(signal?.aborted ? abortReason(signal) : err));
          res.on('close', () => {
            if (!res.complete) fail(new TypeError('terminated'));
          });
          res.on('end', () => {
            if (settled) return;
            settled = true;
            cleanup();
            const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
            resolve(noBody ? new Response(null, base) : wholeBody(bytes, base));
          });
          return;
        }
        // An event stream: hand over a live body; the signal keeps aborting the socket.
        settled = true;
        live = res;
        res.once('close', cleanup);
        resolve(new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, base));
      });
      req.end(body ?? undefined);
    });
  };

  return Object.assign(impl as typeof fetch, {
    close: () => {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  });
}
