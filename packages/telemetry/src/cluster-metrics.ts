import type { Serializable } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  AggregatorRegistry,
  type MetricObjectWithValues,
  type MetricValue,
  type Registry,
} from 'prom-client';
import { COLLECT, COLLECTED, SCRAPE, SCRAPED } from './metrics-relay.js';

/*
 * One scrape, every process. prom-client's own `clusterMetrics()` reaches node:cluster workers only
 * and hands back text; the graphile worker is a `child_process.fork` child of the supervisor, so
 * the supervisor relays (metrics-relay.js: it asks every child for `getMetricsAsJSON()` over IPC and
 * hands the lists back) and the asking server process merges them here with
 * `AggregatorRegistry.aggregate` (sum, or each metric's own aggregator). The merging is not in the
 * supervisor: prom-client alone would add ~23 MB to its RSS.
 */

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];
type Message = {
  type?: unknown;
  requestId?: unknown;
  metrics?: MetricsJson[];
  error?: string;
};

/** The IPC side of this process (`process` in a forked child). */
export type IpcProcess = {
  send?: (message: Serializable) => boolean;
  on: (event: 'message', fn: (message: unknown) => void) => unknown;
  off: (event: 'message', fn: (message: unknown) => void) => unknown;
};

const isMessage = (m: unknown): m is Message => typeof m === 'object' && m !== null;

/** In a child: answer the primary's collection requests with this registry's values. */
export function answerMetricsRequests(registry: Registry, proc: IpcProcess = process): () => void {
  const onMessage = (m: unknown) => {
    if (!isMessage(m) || m.type !== COLLECT) return;
    registry.getMetricsAsJSON().then(
      (metrics) => proc.send?.({ type: COLLECTED, requestId: m.requestId, metrics }),
      (err: unknown) =>
        proc.send?.({ type: COLLECTED, requestId: m.requestId, metrics: [], error: String(err) }),
    );
  };
  proc.on('message', onMessage);
  return () => proc.off('message', onMessage);
}

/** In a server process: the whole cluster's metrics text (every child's, merged here). */
export function requestClusterMetrics(
  proc: IpcProcess = process,
  timeoutMs = 5000,
): Promise<string> {
  const requestId = randomUUID();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.off('message', onMessage);
      reject(new Error('the primary did not answer the metrics request'));
    }, timeoutMs);
    const onMessage = (m: unknown) => {
      if (!isMessage(m) || m.type !== SCRAPED || m.requestId !== requestId) return;
      clearTimeout(timer);
      proc.off('message', onMessage);
      if (Array.isArray(m.metrics)) aggregateMetrics(m.metrics).then(resolve, reject);
      else reject(new Error(m.error ?? 'metrics collection failed'));
    };
    proc.on('message', onMessage);
    if (!proc.send?.({ type: SCRAPE, requestId })) {
      clearTimeout(timer);
      proc.off('message', onMessage);
      reject(new Error('no IPC channel to the primary'));
    }
  });
}

/** Merges per-child metrics (as the supervisor's relay hands them over) into Prometheus text. */
export function aggregateMetrics(perChild: readonly unknown[][]): Promise<string> {
  return AggregatorRegistry.aggregate(perChild as MetricsJson[]).metrics();
}
