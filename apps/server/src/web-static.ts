import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where `pnpm --filter @tollgate/web build` (run by `pnpm install`'s postinstall) writes. */
export const webDistDir = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../web/dist');

/**
 * Strict: scripts and styles only from our own files (Vite emits no inline script), no framing,
 * no plugins, API calls to this origin only. `style-src 'self'` still allows styles React sets
 * through the DOM (element.style), which is how the chart library draws.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function securityHeaders(reply: FastifyReply): void {
  reply.header('content-security-policy', DASHBOARD_CSP);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('x-frame-options', 'DENY');
}

/** Paths that belong to the API surfaces: never answered with the dashboard's page. */
const API_PREFIXES = ['/api', '/trpc', '/v1', '/auth/', '/.well-known/', '/metrics', '/docs'];

/**
 * The dashboard at `/`: the built files (hashed assets cached for a year, index.html never), and
 * index.html for any other browser navigation (the app routes on the client: /keys, /requests/…).
 * Everything else that matches no route keeps Fastify's usual 404.
 */
export async function webRoutes(app: FastifyInstance, opts: { root?: string } = {}): Promise<void> {
  const root = opts.root ?? webDistDir;
  const built = existsSync(join(root, 'index.html'));
  if (built) {
    await app.register(fastifyStatic, {
      root,
      prefix: '/',
      wildcard: false, // one route per built file: no catch-all competing with the API's routes
      index: 'index.html',
      setHeaders: (reply, path) => {
        securityHeaders(reply);
        reply.header(
          'cache-control',
          path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
      },
    });
  }

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    const isPage =
      (req.method === 'GET' || req.method === 'HEAD') &&
      (req.headers.accept ?? '').includes('text/html') &&
      !API_PREFIXES.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`));
    if (isPage) {
      securityHeaders(reply);
      reply.header('cache-control', 'no-cache');
      if (built) return reply.type('text/html; charset=utf-8').sendFile('index.html', root);
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The dashboard is not built: run `pnpm --filter @tollgate/web build`.\n');
    }
    return reply.code(404).send({
      message: `Route ${req.method}:${req.url} not found`,
      error: 'Not Found',
      statusCode: 404,
    });
  });
}
