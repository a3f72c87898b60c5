import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Fastify from 'fastify';

/**
 * GET /docs, /docs/ and /docs/js/scalar.js (the routes @scalar/fastify-api-reference registers for
 * a `url` configuration), with the reference loaded on the first request. Its module holds a ~5 MB
 * bundled browser script, ~20 MB of heap as source strings, kept by every server process from
 * start-up whether or not anyone opens /docs (bench/NOTES.md). The first request builds a private
 * Fastify instance with the real plugin and every request is answered by it, so the pages are the
 * plugin's own.
 */
export function lazyDocsRoutes(app: FastifyInstance, configuration: Record<string, unknown>): void {
  let inner: Promise<FastifyInstance> | undefined;
  const load = async () => {
    const { default: scalar } = await import('@scalar/fastify-api-reference');
    const docs = Fastify({ logger: false });
    await docs.register(scalar, { routePrefix: '/docs', configuration });
    await docs.ready();
    return docs;
  };
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    inner ??= load().catch((e) => {
      inner = undefined; // a failed import is retried by the next request
      throw e;
    });
    const res = await (await inner).inject({
      method: 'GET',
      url: req.url,
      headers: { host: req.headers.host ?? 'localhost' },
    });
    for (const name of ['content-type', 'location', 'content-disposition']) {
      const value = res.headers[name];
      if (value !== undefined) reply.header(name, value);
    }
    return reply.code(res.statusCode).send(res.rawPayload);
  };
  for (const url of ['/docs', '/docs/', '/docs/js/scalar.js'])
    app.get(url, { logLevel: 'warn' }, handler);
}
