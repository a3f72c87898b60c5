import http from 'node:http';
import https from 'node:https';

/**
 * One HTTP exchange with an upstream over node:http(s), with a keep-alive agent per provider
 * client. Both the OpenAI wire client (openai.ts) and the fetch handed to the Anthropic SDK
 * (http-fetch.ts) send through it, so abort handling lives in one place.
 *
 * Why not the global fetch: undici's WHATWG layer (Request/Headers objects, web streams for every
 * body, AbortSignal composition) cost ~100–150 µs of CPU per call in the bench (bench/NOTES.md),
 * more than the whole budget of a gateway hop; a pooled node:http socket costs a fraction.
 */
export type UpstreamRequest = {
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array | undefined;
  /** Aborts at any time: before the answer it rejects, after it the caller's body read fails. */
  signal?: AbortSignal | undefined;
  /**
   * Limit on the whole exchange, headers and body; past it the socket is closed and the call fails
   * with a TimeoutError. Streams leave it unset: the gateway's TTFT and idle limits govern them.
   */
  timeoutMs?: number | undefined;
};

/** A URL parsed once, ahead of the calls to it (WHATWG URL parsing costs ~5 µs per call). */
export type UpstreamTarget = {
  secure: boolean;
  hostname: string;
  port: string;
  /** Path and query. */
  path: string;
  /** The Host header. */
  host: string;
};

export function upstreamTarget(url: string): UpstreamTarget {
  const u = new URL(url);
  return {
    secure: u.protocol === 'https:',
    hostname: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port,
    path: `${u.pathname}${u.search}`,
    host: u.host,
  };
}

export type UpstreamHttp = {
  /** Resolves with the response once its headers arrive; the body is the caller's to read. */
  send(target: UpstreamTarget, init: UpstreamRequest): Promise<http.IncomingMessage>;
  /** Drops the pooled sockets. */
  close(): void;
};

export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

export function createUpstreamHttp(): UpstreamHttp {
  const agents = {
    http: new http.Agent({ keepAlive: true, scheduling: 'lifo' }),
    https: new https.Agent({ keepAlive: true, scheduling: 'lifo' }),
  };

  function send(target: UpstreamTarget, init: UpstreamRequest): Promise<http.IncomingMessage> {
    const { signal, body } = init;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    // A flat [name, value, ...] list is written as given; a header object costs node:http a
    // setHeader() with validation per header (~15 µs per call in a microbenchmark).
    const headers: string[] = [];
    let hasHost = false;
    let hasLength = false;
    for (const name in init.headers) {
      const lower = name.toLowerCase();
      if (lower === 'host') hasHost = true;
      else if (lower === 'content-length') hasLength = true;
      headers.push(name, init.headers[name] as string);
    }
    if (!hasHost) headers.push('host', target.host);
    if (body != null && !hasLength) {
      headers.push(
        'content-length',
        String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength),
      );
    }
    return new Promise((resolve, reject) => {
      const req = (target.secure ? https : http).request({
        hostname: target.hostname,
        port: target.port,
        path: target.path,
        method: init.method,
        headers,
        agent: target.secure ? agents.https : agents.http,
      });
      let answered: http.IncomingMessage | undefined;
      let settled = false;
      // The limit and the abort listener live until the body is done (or the call failed), so an
      // abort or the limit mid-body still closes the socket.
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      // During a body read the reader sees the error; either way the socket goes, which is what
      // stops the upstream generating (and billing) tokens nobody will read.
      const stop = (reason: unknown) => {
        cleanup();
        answered?.destroy(reason instanceof Error ? reason : new Error('aborted'));
        req.destroy();
        if (!settled) {
          settled = true;
          reject(reason);
        }
      };
      const onAbort = () => stop(abortReason(signal as AbortSignal));
      const timer =
        init.timeoutMs === undefined
          ? undefined
          : setTimeout(
              () => stop(new DOMException('upstream call timed out', 'TimeoutError')),
              init.timeoutMs,
            );
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => {
        cleanup();
        if (settled) return;
        settled = true;
        reject(signal?.aborted ? abortReason(signal) : err);
      });
      req.on('response', (res) => {
        settled = true;
        answered = res;
        res.once('close', cleanup);
        resolve(res);
      });
      req.end(body ?? undefined);
    });
  }

  return {
    send,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

/**
 * Reads a whole body. Rejects with `terminated` when the connection drops before the end (the
 * name undici uses, which the error classification already knows), or with the abort reason.
 */
export function readBody(res: http.IncomingMessage, signal?: AbortSignal): Promise<Buffer> {
  // Usually the whole answer came in with its headers and node:http has already parsed it into
  // the stream's buffer: take it now. Waiting for 'data' and 'end' instead queued the answer
  // behind node's own next-tick work for the response (socket release to the agent, 'close'):
  // ~40–60 µs on every call's critical path at c=1 (bench/NOTES.md). Reading the buffer to its end
  // still ends the stream, so the socket goes back to the pool as before.
  if (res.complete && !res.destroyed) {
    const chunks: Buffer[] = [];
    for (let c = res.read() as Buffer | null; c !== null; c = res.read() as Buffer | null) {
      chunks.push(c);
    }
    return Promise.resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let done = false;
    const fail = (err: unknown) => {
      if (done) return;
      done = true;
      reject(signal?.aborted ? abortReason(signal) : err);
    };
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', fail); // an abort or the time limit destroyed it with its reason
    res.on('close', () => {
      if (!res.complete) fail(new TypeError('terminated'));
    });
    res.on('end', () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    });
  });
}
