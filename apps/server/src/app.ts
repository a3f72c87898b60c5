import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import { type AppRouter, appRouter, makeCreateContext } from '@tollgate/api';
import { checkReadiness, type Deps } from '@tollgate/core';
import { lazyChildLogger } from '@tollgate/telemetry';
import { type FastifyTRPCPluginOptions, fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { installBodyLimits } from './body-limits.ts';
import { compatRoutes } from './compat/compat.plugin.ts';
import { installJsonDepthLimit } from './json-depth.ts';
import { identityRoutes } from './jwks.ts';
import { registerMetrics, routeLabel } from './metrics-routes.ts';
import { rememberPrincipal } from './request-principal.ts';
import { trpcResponseMeta } from './response-meta.ts';
import { restBridge } from './rest-bridge.ts';
import { installTracing } from './tracing-hooks.ts';
import { usageCsvRoute } from './usage-csv.ts';
import { webSessionRoutes } from './web-session.ts';
import { webRoutes } from './web-static.ts';

export type ServerDeps = Deps;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Node's default, stated: a bigger header block is answered 431 and the connection closed. */
export const MAX_HEADER_BYTES = 16 * 1024;

/** The whole HTTP surface, not listening: tests `inject()` into it, serve.ts listens. */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: 1024 * 1024, // model-call and upload routes set their own
    routerOptions: { maxParamLength: 5000 }, // batched /trpc/a,b,c URLs
    // A caller's x-request-id is kept when it is sane; otherwise we make one. Echoed on every reply.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Our own one-line-per-request log (onResponse) replaces Fastify's two lines.
    logController: new LogController({ disableRequestLogging: true }),
    // Per-request children only when a line is written (lazy-child.ts: why).
    childLoggerFactory: lazyChildLogger as never,
    trustProxy: false,
    // Slow-loris and header floods (docs/deploy.md): headers must arrive within
    // HTTP_HEADERS_TIMEOUT_MS, a whole request body within HTTP_REQUEST_TIMEOUT_MS, and headers are
    // capped at 16 KiB (431 past it). No idle-socket timeout: a non-streaming model call may
    // legitimately send nothing for UPSTREAM_TIMEOUT_MS.
    requestTimeout: deps.config.httpRequestTimeoutMs,
    http: {
      headersTimeout: Math.min(deps.config.httpHeadersTimeoutMs, deps.config.httpRequestTimeoutMs),
      maxHeaderSize: MAX_HEADER_BYTES,
      // How often Node looks for connections past those limits (its default is 30 s).
      connectionsCheckingInterval: Math.min(1000, deps.config.httpHeadersTimeoutMs),
    },
  });

  // 20 MiB for chat/embeddings, 1 MiB for the rest of /api and /trpc, 413 in each surface's shape.
  installBodyLimits(app);
  // A 100,000-deep body is a 400, not a stack overflow in whatever walks it first.
  installJsonDepthLimit(app);
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
  // Route templates for labels and the log line, the duration histogram, GET /metrics.
  await registerMetrics(app, deps);
  // OpenTelemetry server spans, only when OTEL_EXPORTER_OTLP_ENDPOINT is set (no cost otherwise).
  if (deps.tracing) installTracing(app, deps.tracing);
  // One line per request, after it is done: id, principal, route template, status, latency.
  app.addHook('onResponse', (req, reply, done) => {
    if (deps.log.isLevelEnabled('info')) {
      req.log.info(
        {
          method: req.method,
          route: routeLabel(req),
          status: reply.statusCode,
          latencyMs: Math.round(reply.elapsedTime * 100) / 100,
          userId: req.principalUserId,
          keyId: req.principalKeyId,
          model: req.logModel,
          traceId: req.traceId,
          ...(req.logStream ? { stream: true } : {}),
        },
        'request',
      );
    }
    done();
  });

  // No CORS_ORIGINS (the default): no browser origin is allowed, so no CORS hook runs at all; the
  // plugin's per-request hook with `origin: false` cost ~15 µs of every model call (bench/NOTES.md).
  if (deps.config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...deps.config.corsOrigins],
      credentials: false,
      exposedHeaders: ['x-request-id', 'retry-after'],
    });
  }

  // pid: tells cluster processes apart (tests, operators behind one port).
  app.get('/healthz', async () => ({ status: 'ok', pid: process.pid }));
  app.get('/readyz', async (_req, reply) => {
    const r = await checkReadiness(deps);
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not_ready', ...r });
  });

  const createContext = makeCreateContext(deps);
  await app.register(fastifyTRPCPlugin, {
    prefix: '/trpc',
    trpcOptions: {
      router: appRouter,
      createContext: async (opts) => {
        const ctx = await createContext(opts);
        rememberPrincipal(opts.req, ctx.principal);
        return ctx;
      },
      responseMeta: trpcResponseMeta,
      onError: ({ error, path }) => {
        if (error.code === 'INTERNAL_SERVER_ERROR')
          deps.log.error({ err: error, path }, 'procedure failed');
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>['trpcOptions'],
  });

  await app.register(usageCsvRoute, { createContext });
  await app.register(restBridge, { deps, createContext });
  await app.register(identityRoutes, { deps });
  await app.register(compatRoutes, { prefix: '/v1', deps });
  // The dashboard: its cookie session (/auth/session) and its built files at / (apps/web).
  await app.register(webSessionRoutes, { deps });
  await webRoutes(app);
  return app;
}
