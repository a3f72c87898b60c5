export type { IpcProcess } from './cluster-metrics.ts';
export {
  aggregateMetrics,
  answerMetricsRequests,
  requestClusterMetrics,
} from './cluster-metrics.ts';
export { lazyChildLogger } from './lazy-child.ts';
export type { Logger, LoggerOptions } from './logger.ts';
export { createLogger, redactPaths, scrubSecrets } from './logger.ts';
export type { MetricSources, Metrics, PoolStats } from './metrics.ts';
export { bindMetricSources, createMetrics } from './metrics.ts';
export type { IpcChild, MetricsHub } from './metrics-relay.js';
export { createMetricsHub } from './metrics-relay.js';
export type { TraceSpan, Tracing, TracingOptions } from './tracing.ts';
export { createTracing } from './tracing.ts';
