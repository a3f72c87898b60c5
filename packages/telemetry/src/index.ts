export type { Logger, LoggerOptions } from './logger.ts';
export { createLogger, redactPaths } from './logger.ts';
export type { Metrics } from './metrics.ts';
export { createMetrics } from './metrics.ts';
