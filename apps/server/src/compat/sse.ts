import { once } from 'node:events';
import type { FastifyReply } from 'fastify';

/** An open text/event-stream response written straight to the socket, flushed per event. */
export type SseWriter = {
  /** Writes frames; waits for the socket to drain when it is backed up. False once the client is gone. */
  write(frames: readonly string[]): Promise<boolean>;
  end(): void;
};

/**
 * Takes the response over from Fastify (no serializer, no onSend) and starts the event stream.
 * Headers Fastify already set on the reply (x-request-id, CORS) are kept.
 */
export function openSse(reply: FastifyReply): SseWriter {
  reply.hijack();
  const res = reply.raw;
  const headers: Record<string, string | number | string[]> = {};
  for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = v;
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    // Reverse proxies (nginx) must not buffer the stream.
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  return {
    async write(frames) {
      if (frames.length === 0) return !res.destroyed;
      if (res.destroyed || res.writableEnded) return false;
      const ok = res.write(frames.length === 1 ? (frames[0] as string) : frames.join(''));
      if (!ok && !res.destroyed) {
        // 'close' also ends the wait: a client that stops reading and goes away must not hang us.
        await Promise.race([once(res, 'drain'), once(res, 'close')]);
      }
      return !res.destroyed;
    },
    end() {
      if (!res.writableEnded) res.end();
    },
  };
}
