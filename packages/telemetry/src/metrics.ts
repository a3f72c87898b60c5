import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Every Tollgate metric, created on an injected Registry (never the global one: a second server in
 * one test process would throw "already registered"). Names and labels are public (PRODUCT.md).
 */
export function createMetrics(registry: Registry) {
  const registers = [registry];
  return {
    registry,
    httpRequestDuration: new Histogram({
      name: 'tollgate_http_request_duration_seconds',
      help: 'HTTP request duration by route template, method and status',
      labelNames: ['route', 'method', 'status'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    upstreamDuration: new Histogram({
      name: 'tollgate_upstream_request_duration_seconds',
      help: 'Upstream model call duration by provider, model and status',
      labelNames: ['provider', 'model', 'status'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    }),
    upstreamTtft: new Histogram({
      name: 'tollgate_upstream_ttft_seconds',
      help: 'Time to first token of streamed upstream calls',
      labelNames: ['provider', 'model'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    }),
    tokens: new Counter({
      name: 'tollgate_tokens_total',
      help: 'Tokens by provider, model and direction (input|output)',
      labelNames: ['provider', 'model', 'direction'] as const,
      registers,
    }),
    costUsd: new Counter({
      name: 'tollgate_cost_usd_total',
      help: 'Cost in USD by provider and model',
      labelNames: ['provider', 'model'] as const,
      registers,
    }),
    cacheHits: new Counter({
      name: 'tollgate_cache_hits_total',
      help: 'Exact-match cache hits by model',
      labelNames: ['model'] as const,
      registers,
    }),
    rejections: new Counter({
      name: 'tollgate_rejections_total',
      help: 'Requests refused by reason (budget|rate_limit|auth|invalid)',
      labelNames: ['reason'] as const,
      registers,
    }),
    jobs: new Counter({
      name: 'tollgate_jobs_total',
      help: 'Background jobs by task and outcome (success|failure)',
      labelNames: ['task', 'outcome'] as const,
      registers,
    }),
    jobDuration: new Histogram({
      name: 'tollgate_job_duration_seconds',
      help: 'Background job duration by task',
      labelNames: ['task'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'tollgate_queue_depth',
      help: 'Jobs waiting by queue',
      labelNames: ['queue'] as const,
      registers,
    }),
    dbPoolConnections: new Gauge({
      name: 'tollgate_db_pool_connections',
      help: 'Database pool connections by state (total|idle|waiting)',
      labelNames: ['state'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
