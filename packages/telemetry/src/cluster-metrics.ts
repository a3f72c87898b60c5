import type { Serializable } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  AggregatorRegistry,
  type MetricObjectWithValues,
  type MetricValue,
  type Registry,
} from 'prom-client';

/*
 * One scrape, every process. prom-client's own `clusterMetrics()` reaches node:cluster workers only
 * and hands back text; the graphile worker is a `child_process.fork` child of the primary, so the
 * primary asks every child (server processes and worker) for `getMetricsAsJSON()` over IPC itself
 * and merges them with `AggregatorRegistry.aggregate` (sum, or each metric's own aggregator).
 */

const COLLECT = 'tollgate:metrics:collect';
const COLLECTED = 'tollgate:metrics:collected';
const SCRAPE = 'tollgate:metrics:scrape';
const SCRAPED = 'tollgate:metrics:scraped';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];
type Message = {
  type?: unknown;
  requestId?: unknown;
  metrics?: MetricsJson;
  text?: string;
  error?: string;
};

/** The IPC side of this process (`process` in a forked child). */
export type IpcProcess = {
  send?: (message: Serializable) => boolean;
  on: (event: 'message', fn: (message: unknown) => void) => unknown;
  off: (event: 'message', fn: (message: unknown) => void) => unknown;
};

/** A child seen from the primary: a node:cluster Worker or a forked ChildProcess. */
export type IpcChild = {
  send: (message: Serializable) => boolean;
  on: (event: 'message', fn: (message: unknown) => void) => unknown;
  off: (event: 'message', fn: (message: unknown) => void) => unknown;
  isConnected?: () => boolean;
  connected?: boolean;
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

/** In a server process: the whole cluster's metrics text, assembled by the primary. */
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
      if (typeof m.text === 'string') resolve(m.text);
      else reject(new Error(m.error ?? 'metrics aggregation failed'));
    };
    proc.on('message', onMessage);
    if (!proc.send?.({ type: SCRAPE, requestId })) {
      clearTimeout(timer);
      proc.off('message', onMessage);
      reject(new Error('no IPC channel to the primary'));
    }
  });
}

export type MetricsHub = {
  /** Track a child; returns the function that forgets it (call on exit). */
  add: (child: IpcChild) => () => void;
  /** Every tracked child's metrics, merged, in Prometheus text format. */
  collect: () => Promise<string>;
};

const connected = (c: IpcChild) => (c.isConnected ? c.isConnected() : c.connected !== false);

/**
 * In the primary: tracks children, and answers a server process's scrape with the merged
 * metrics of all of them. A child that does not answer within `timeoutMs` is left out rather
 * than failing the scrape (it may be restarting).
 */
export function createMetricsHub(opts: { timeoutMs?: number } = {}): MetricsHub {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const children = new Set<IpcChild>();

  const collectFrom = (child: IpcChild): Promise<MetricsJson | undefined> =>
    new Promise((resolve) => {
      const requestId = randomUUID();
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const onMessage = (m: unknown) => {
        if (isMessage(m) && m.type === COLLECTED && m.requestId === requestId) done(m.metrics);
      };
      function done(v: MetricsJson | undefined) {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(v);
      }
      child.on('message', onMessage);
      try {
        if (!child.send({ type: COLLECT, requestId })) done(undefined);
      } catch {
        done(undefined);
      }
    });

  const collect = async () => {
    const all = await Promise.all([...children].filter(connected).map(collectFrom));
    const present = all.filter((m): m is MetricsJson => Array.isArray(m));
    return AggregatorRegistry.aggregate(present).metrics();
  };

  const add = (child: IpcChild) => {
    const onMessage = (m: unknown) => {
      if (!isMessage(m) || m.type !== SCRAPE) return;
      collect().then(
        (text) => child.send({ type: SCRAPED, requestId: m.requestId, text }),
        (err: unknown) => child.send({ type: SCRAPED, requestId: m.requestId, error: String(err) }),
      );
    };
    child.on('message', onMessage);
    children.add(child);
    return () => {
      child.off('message', onMessage);
      children.delete(child);
    };
  };

  return { add, collect };
}
