import { createMetricsHub, type MetricsHub } from '@tollgate/telemetry';

/**
 * The primary's side of cluster metrics: node:cluster server processes and the forked graphile
 * worker are tracked alike, so one scrape of any server process shows the sum over all of them.
 */
export function createClusterMetricsHub(): MetricsHub {
  return createMetricsHub({ timeoutMs: 2000 });
}
