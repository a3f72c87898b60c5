import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  aggregateMetrics,
  answerMetricsRequests,
  requestClusterMetrics,
} from './cluster-metrics.ts';
import { createMetrics } from './metrics.ts';
import { createMetricsHub } from './metrics-relay.js';

/** Both ends of one IPC channel, in memory (messages cross as JSON, as over a real channel). */
function channel() {
  const parentSide = new EventEmitter();
  const childSide = new EventEmitter();
  const deliver = (to: EventEmitter, m: unknown) =>
    setImmediate(() => to.emit('message', JSON.parse(JSON.stringify(m))));
  let open = true;
  const child = Object.assign(parentSide, {
    send: (m: unknown) => {
      if (open) deliver(childSide, m);
      return open;
    },
    isConnected: () => open,
  });
  const proc = Object.assign(childSide, {
    send: (m: unknown) => {
      deliver(parentSide, m);
      return true;
    },
  });
  return { child, proc, close: () => (open = false) };
}

function process_(name: string) {
  const metrics = createMetrics(new Registry());
  const ch = channel();
  answerMetricsRequests(metrics.registry, ch.proc);
  return { name, metrics, ...ch };
}

const line = (text: string, prefix: string) => text.split('\n').find((l) => l.startsWith(prefix));

describe('cluster metrics', () => {
  it('a scrape from one server process returns the sum over every child', async () => {
    const hub = createMetricsHub({ timeoutMs: 1000 });
    const a = process_('server-a');
    const b = process_('server-b');
    const worker = process_('worker');
    hub.add(a.child);
    hub.add(b.child);
    hub.add(worker.child);

    const labels = { route: '/healthz', method: 'GET', status: '200' };
    a.metrics.httpRequestDuration.observe(labels, 0.01);
    a.metrics.httpRequestDuration.observe(labels, 0.02);
    b.metrics.httpRequestDuration.observe(labels, 0.03);
    worker.metrics.jobs.inc({ task: 'batch_item', outcome: 'success' }, 4);
    a.metrics.queueDepth.set({ queue: 'default' }, 7);
    b.metrics.queueDepth.set({ queue: 'default' }, 7);

    const text = await requestClusterMetrics(b.proc, 2000);
    expect(
      line(
        text,
        'tollgate_http_request_duration_seconds_count{route="/healthz",method="GET",status="200"}',
      ),
    ).toMatch(/ 3$/);
    expect(line(text, 'tollgate_jobs_total{task="batch_item",outcome="success"}')).toMatch(/ 4$/);
    // Every process reads the same jobs table: the queue gauge is not multiplied by processes.
    expect(line(text, 'tollgate_queue_depth{queue="default"}')).toMatch(/ 7$/);
    expect(text).toContain('# TYPE nodejs_heap_size_total_bytes gauge');
  });

  it('leaves out a child that went away instead of failing the scrape', async () => {
    const hub = createMetricsHub({ timeoutMs: 200 });
    const a = process_('server-a');
    const gone = process_('server-b');
    hub.add(a.child);
    hub.add(gone.child);
    gone.close();
    a.metrics.rejections.inc({ reason: 'budget' });
    gone.metrics.rejections.inc({ reason: 'budget' });
    const text = await aggregateMetrics(await hub.collect());
    expect(line(text, 'tollgate_rejections_total{reason="budget"}')).toMatch(/ 1$/);
  });

  it('stops counting a child once it is forgotten', async () => {
    const hub = createMetricsHub({ timeoutMs: 1000 });
    const a = process_('server-a');
    const b = process_('server-b');
    hub.add(a.child);
    const forgetB = hub.add(b.child);
    a.metrics.cacheHits.inc({ model: 'mock-echo' });
    b.metrics.cacheHits.inc({ model: 'mock-echo' });
    expect(
      line(
        await aggregateMetrics(await hub.collect()),
        'tollgate_cache_hits_total{model="mock-echo"}',
      ),
    ).toMatch(/ 2$/);
    forgetB();
    expect(
      line(
        await aggregateMetrics(await hub.collect()),
        'tollgate_cache_hits_total{model="mock-echo"}',
      ),
    ).toMatch(/ 1$/);
  });

  it('rejects when there is no primary to ask', async () => {
    const proc = Object.assign(new EventEmitter(), { send: () => false });
    await expect(requestClusterMetrics(proc, 100)).rejects.toThrow(/IPC/);
  });
});
