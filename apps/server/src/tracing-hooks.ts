import type { TraceSpan as Span, Tracing } from '@tollgate/telemetry';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { routeLabel } from './metrics-routes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The W3C trace id of this request's server span (tracing on only), for the log line. */
    traceId?: string;
    /** This request's HTTP server span (tracing on only). */
    serverSpan?: Span | null;
  }
}

/**
 * An HTTP server span per request (installed only when tracing is on): it continues the
 * caller's W3C traceparent, ends when the response is done (streams included: a hijacked reply
 * skips onResponse, 'close' does not), and its trace id goes into the request's log line.
 */
export function installTracing(app: FastifyInstance, tracing: Tracing): void {
  // Declared on the request's constructor, not added per request: the request objects keep one
  // shape, and no WeakMap entry (an ephemeron the GC must trace) is made per request.
  app.decorateRequest('traceId', '');
  app.decorateRequest('serverSpan', null);
  app.addHook('onRequest', (req, reply, done) => {
    const q = req.url.indexOf('?');
    const span = tracing.startServerSpan(
      req.method,
      q === -1 ? req.url : req.url.slice(0, q),
      req.headers,
    );
    req.serverSpan = span;
    // A log-line field, not a child logger: pino's child() redacts its bindings every time.
    req.traceId = span.spanContext().traceId;
    reply.raw.once('close', () =>
      tracing.endServerSpan(span, req.method, routeLabel(req), reply.raw.statusCode),
    );
    done();
  });
  app.addHook('onClose', () => tracing.shutdown());
}

/**
 * Upstream headers that make a model call's spans children of this request's server span
 * (the traced provider turns it into its own GenAI span's traceparent); none with tracing off.
 */
export function traceHeaders(
  req: FastifyRequest,
  tracing: Tracing | undefined,
): { headers: Record<string, string> } | Record<string, never> {
  const span = tracing ? req.serverSpan : undefined;
  return span && tracing ? { headers: { traceparent: tracing.traceparentOf(span) } } : {};
}
