import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from 'prom-client';

const MAX_QUEUE_LABELS = 50;

/** The slice of a pg.Pool the pool gauge reads (telemetry does not depend on pg). */
export type PoolStats = { totalCount: number; idleCount: number; waitingCount: number };

export type MetricSources = {
  pool?: PoolStats;
  /** Jobs not yet run, by queue name; read at scrape time. */
  queueDepth?: () => Promise<ReadonlyArray<{ queue: string; count: number }>>;
};

/**
 * Every Tollgate metric, created on an injected Registry (never the global one: a second server in
 * one test process would throw "already registered"). Names and labels are public (PRODUCT.md).
 */
export function createMetrics(registry: Registry) {
  const registers = [registry];
  const sources: MetricSources = {};
  const seenQueues = new Set<string>(['default']);
  // process_* and nodejs_* on the same injected registry, so one scrape (and cluster sum) has them.
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    /** Where scrape-time gauges read from; set with `bindMetricSources`. */
    sources,
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
      labelNames: ['provider', 'model', 'status', 'connection'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    }),
    upstreamTtft: new Histogram({
      name: 'tollgate_upstream_ttft_seconds',
      help: 'Time to first token of streamed upstream calls',
      labelNames: ['provider', 'model', 'connection'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    }),
    tokens: new Counter({
      name: 'tollgate_tokens_total',
      help: 'Tokens by provider, model and direction (input|output)',
      labelNames: ['provider', 'model', 'direction', 'connection'] as const,
      registers,
    }),
    costUsd: new Counter({
      name: 'tollgate_cost_usd_total',
      help: 'Cost in USD by provider and model',
      labelNames: ['provider', 'model', 'connection'] as const,
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
      help: 'Jobs not yet run by queue (default: jobs without a queue name)',
      labelNames: ['queue'] as const,
      // Every server process reads the same table: a cluster sum would count each job N times.
      aggregator: 'max',
      registers,
      async collect() {
        if (!sources.queueDepth) return;
        try {
          const rows = await sources.queueDepth();
          // Queues that drained since the last scrape read 0, not their old value.
          for (const q of seenQueues) this.set({ queue: q }, 0);
          for (const r of rows) {
            // Per-entity queue names would be unbounded labels: past a cap they share one series.
            const queue =
              seenQueues.has(r.queue) || seenQueues.size < MAX_QUEUE_LABELS ? r.queue : 'other';
            seenQueues.add(queue);
            this.inc({ queue }, r.count);
          }
        } catch {
          // A database hiccup must not fail the whole scrape; the last values stay.
        }
      },
    }),
    requestLogDropped: new Counter({
      name: 'tollgate_request_log_dropped_total',
      help: 'Request-log rows dropped (buffer full while the database was unreachable, or unserializable)',
      registers,
    }),
    dbPoolConnections: new Gauge({
      name: 'tollgate_db_pool_connections',
      help: 'Database pool connections by state (total|idle|waiting)',
      labelNames: ['state'] as const,
      registers,
      collect() {
        const pool = sources.pool;
        if (!pool) return;
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Gauges read at scrape time: prom-client calls `collect` on every `metrics()` and
 * `getMetricsAsJSON()`, so cluster aggregation sees fresh values too.
 */
export function bindMetricSources(metrics: Metrics, sources: MetricSources): void {
  Object.assign(metrics.sources, sources);
}
