import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { LeanTracer } from './lean-tracer.ts';

function tracer() {
  const ended: ReadableSpan[] = [];
  const t = new LeanTracer({
    resource: resourceFromAttributes({ 'service.name': 'test' }),
    scope: { name: 'tollgate' },
    processor: {
      onStart: () => {},
      onEnd: (s) => void ended.push(s),
      forceFlush: async () => {},
      shutdown: async () => {},
    },
    spanContextOf: (ctx) => trace.getSpanContext(ctx),
  });
  return { t, ended };
}

describe('LeanTracer', () => {
  it('starts sampled roots with fresh random ids, children in their parent trace', () => {
    const { t, ended } = tracer();
    const a = t.startChild('a', SpanKind.SERVER, {}, undefined);
    const b = t.startChild('b', SpanKind.SERVER, {}, undefined);
    expect(a.spanContext().traceId).toMatch(/^[\da-f]{32}$/);
    expect(a.spanContext().spanId).toMatch(/^[\da-f]{16}$/);
    expect(a.spanContext().traceId).not.toBe(b.spanContext().traceId);
    expect(a.spanContext().traceFlags).toBe(1);

    const state = new TraceState('v=1');
    const parent = {
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
      traceFlags: 0,
      traceState: state,
    };
    const child = t.startChild('c', SpanKind.CLIENT, { k: 'v' }, parent);
    expect(child.spanContext()).toMatchObject({
      traceId: parent.traceId,
      traceFlags: 0,
      traceState: state,
    });
    child.end();
    expect(ended[0]).toMatchObject({ name: 'c', kind: SpanKind.CLIENT, parentSpanContext: parent });

    // Through the API's Context, as other callers of a Tracer pass parents.
    const viaCtx = t.startSpan('d', {}, trace.setSpan(ROOT_CONTEXT, a));
    expect(viaCtx.spanContext().traceId).toBe(a.spanContext().traceId);
    const root = t.startSpan('e', { root: true }, trace.setSpan(ROOT_CONTEXT, a));
    expect(root.spanContext().traceId).not.toBe(a.spanContext().traceId);
  });

  it('follows the SDK span rules for attributes, status, name, events and end', () => {
    const { t, ended } = tracer();
    const s = t.startSpan('x', { kind: SpanKind.INTERNAL, attributes: { a: 1, gone: undefined } });
    s.setAttribute('b', 'two');
    s.setAttributes({ c: true, d: ['e'] });
    s.addEvent('ev', { n: 1 });
    s.setStatus({ code: SpanStatusCode.ERROR, message: 'bad' });
    s.updateName('y');
    s.end();
    s.end(); // twice: no second export
    s.setAttribute('late', 1); // after the end: ignored
    s.setStatus({ code: SpanStatusCode.OK });
    expect(ended).toHaveLength(1);
    const r = ended[0] as ReadableSpan;
    expect(r.name).toBe('y');
    expect(r.attributes).toEqual({ a: 1, b: 'two', c: true, d: ['e'] });
    expect(r.status).toEqual({ code: SpanStatusCode.ERROR, message: 'bad' });
    expect(r.events).toMatchObject([{ name: 'ev', attributes: { n: 1 } }]);
    const ms = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;
    expect(ms(r.endTime)).toBeGreaterThanOrEqual(ms(r.startTime));
    expect(Math.abs(ms(r.startTime) - Date.now())).toBeLessThan(60_000);
    expect(r.ended).toBe(true);

    const ok = t.startSpan('ok');
    ok.setStatus({ code: SpanStatusCode.OK });
    ok.setStatus({ code: SpanStatusCode.ERROR, message: 'ignored: OK is final' });
    ok.end();
    expect(ended[1]?.status).toEqual({ code: SpanStatusCode.OK });
  });
});
