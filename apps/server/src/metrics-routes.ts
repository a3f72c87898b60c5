import cluster from 'node:cluster';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Deps } from '@tollgate/core';
import {
  answerMetricsRequests,
  bindMetricSources,
  requestClusterMetrics,
} from '@tollgate/telemetry';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import {
  methodLabel,
  requestedModel,
  resolveRouteTemplate,
  UNKNOWN_ROUTE,
} from './metrics-labels.ts';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** `Authorization: Bearer <METRICS_TOKEN>`, compared in constant time (digests hide the length). */
function metricsAuthorized(req: FastifyRequest, token: string | undefined): boolean {
  if (token === undefined) return true;
  const header = req.headers.authorization;
  if (typeof header !== 'string') return false;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!m?.[1]) return false;
  return timingSafeEqual(digest(m[1]), digest(token));
}

/** Jobs waiting to run (not locked, attempts left), by queue; `default` for jobs without one. */
async function readQueueDepth(deps: Deps): Promise<Array<{ queue: string; count: number }>> {
  const { rows } = await sql<{ queue: string; count: number }>`
    select coalesce(q.queue_name, 'default') as queue, count(*)::int as count
    from graphile_worker._private_jobs j
    left join graphile_worker._private_job_queues q on q.id = j.job_queue_id
    where j.is_available
    group by 1`.execute(deps.db);
  return rows;
}

/** The label of a finished request: its template, computed when it started. */
export const routeLabel = (req: FastifyRequest) => req.routeTemplate ?? UNKNOWN_ROUTE;

/**
 * HTTP duration histogram hooks and `GET /metrics`. In a node:cluster server process the scrape
 * is the whole cluster's (the primary merges every process); otherwise this process's registry.
 */
export async function registerMetrics(app: FastifyInstance, deps: Deps): Promise<void> {
  const { metrics, config } = deps;
  bindMetricSources(metrics, { pool: deps.pool, queueDepth: () => readQueueDepth(deps) });

  const inCluster = cluster.isWorker;
  if (inCluster) {
    const stop = answerMetricsRequests(metrics.registry);
    app.addHook('onClose', async () => stop());
  }

  // Synchronous hooks take `done`: an async hook costs a promise and a microtask per request.
  // Before the handler: the REST bridge rewrites req.raw.url while it runs.
  app.addHook('onRequest', (req, _reply, done) => {
    req.routeTemplate = resolveRouteTemplate(req);
    done();
  });
  // The log line names the model of model calls (/v1/*, chat, embeddings: JSON bodies).
  app.addHook('preHandler', (req, _reply, done) => {
    req.logModel ??= requestedModel(req.body);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    metrics.httpRequestDuration.observe(
      { route: routeLabel(req), method: methodLabel(req.method), status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });

  app.get('/metrics', async (req, reply) => {
    if (!metricsAuthorized(req, config.metricsToken)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="metrics"')
        .send({ error: { code: 'unauthenticated', message: 'metrics require a bearer token' } });
    }
    try {
      const text = inCluster ? await requestClusterMetrics() : await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    } catch (err) {
      req.log.warn({ err: String(err) }, 'metrics scrape failed');
      return reply
        .code(503)
        .send({ error: { code: 'metrics_unavailable', message: 'metrics are unavailable' } });
    }
  });
}
