import { startOtlpReceiver } from '@tollgate/test-kit';
import { describe, expect, it, vi } from 'vitest';
import { createTracing, formatTraceparent, parseTraceparent } from './tracing.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('W3C traceparent', () => {
  it('reads a valid header, its flags and tracestate', () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`)).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      traceFlags: 1,
      isRemote: true,
    });
    expect(parseTraceparent(` 00-${TRACE}-${SPAN}-00 `)?.traceFlags).toBe(0);
    const withState = parseTraceparent(`00-${TRACE}-${SPAN}-01`, 'vendor=abc,other=x');
    expect(withState?.traceState?.get('vendor')).toBe('abc');
    // A later version may append fields after a dash; version 00 may not.
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-01-extra`)?.spanId).toBe(SPAN);
    expect(formatTraceparent({ traceId: TRACE, spanId: SPAN, traceFlags: 1 })).toBe(
      `00-${TRACE}-${SPAN}-01`,
    );
  });

  it('rejects what the spec rejects', () => {
    for (const bad of [
      undefined,
      42,
      '',
      `ff-${TRACE}-${SPAN}-01`, // forbidden version
      `00-${'0'.repeat(32)}-${SPAN}-01`, // zero trace id
      `00-${TRACE}-${'0'.repeat(16)}-01`, // zero span id
      `00-${TRACE.toUpperCase()}-${SPAN}-01`, // upper-case hex
      `00-${TRACE}-${SPAN}-01-extra`, // version 00 with more fields
      `01-${TRACE}-${SPAN}-01extra`, // no dash before a later version's fields
      `00-${TRACE.slice(1)}-${SPAN}-01`,
      `00_${TRACE}_${SPAN}_01`,
    ])
      expect(parseTraceparent(bad)).toBeUndefined();
  });
});

describe('createTracing', () => {
  it('is off without an endpoint', () => {
    expect(createTracing({ endpoint: undefined })).toBeUndefined();
  });

  it('exports OTLP/JSON when asked (OTEL_EXPORTER_OTLP_PROTOCOL=http/json)', async () => {
    const receiver = await startOtlpReceiver();
    const tracing = createTracing({ endpoint: receiver.url, protocol: 'http/json' });
    if (!tracing) throw new Error('tracing should be on');
    const span = tracing.startServerSpan('GET', '/healthz', {
      traceparent: `00-${TRACE}-${SPAN}-01`,
    });
    expect(tracing.traceparentOf(span)).toMatch(new RegExp(`^00-${TRACE}-[\\da-f]{16}-01$`));
    tracing.endServerSpan(span, 'GET', '/healthz', 200);
    await vi.waitFor(
      async () => {
        await tracing.forceFlush();
        expect(receiver.spans).toHaveLength(1);
      },
      { timeout: 5000, interval: 50 },
    );
    expect(receiver.requests[0]?.contentType).toBe('application/json');
    expect(receiver.spans[0]).toMatchObject({
      traceId: TRACE,
      parentSpanId: SPAN,
      name: 'GET /healthz',
      kind: 2,
    });
    await tracing.shutdown();
    await receiver.close();
  });
});
