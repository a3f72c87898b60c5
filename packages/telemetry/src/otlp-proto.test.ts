import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { type ReadableSpan, TracerProvider } from '@opentelemetry/sdk-trace';
import { decodeOtlpTraces, type OtlpSpan } from '@tollgate/test-kit';
import { describe, expect, it } from 'vitest';
import { type EncodedBatch, ProtoSpanProcessor, ProtoWriter } from './otlp-proto.ts';

/** Spans made by the real SDK, covering every field and value type the encoder writes. */
function makeSpans(): ReadableSpan[] {
  const ended: ReadableSpan[] = [];
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'tollgate', 'service.version': '1.2.3' }),
    spanProcessors: [
      {
        onStart: () => {},
        onEnd: (span) => void ended.push(span),
        forceFlush: async () => {},
        shutdown: async () => {},
      },
    ],
  });
  const tracer = provider.getTracer('tollgate', '0.1.0');
  const remote = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: 1,
    isRemote: true,
    traceState: new TraceState('vendor=abc,other=x'),
  });
  const server = tracer.startSpan(
    'POST /v1/chat/completions',
    { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'url.path': '/v1/x' } },
    remote,
  );
  const client = tracer.startSpan(
    'chat gpt-4o-mini',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.max_tokens': 32,
        'gen_ai.request.temperature': 0.7,
        'gen_ai.request.stream': false,
        'gen_ai.response.finish_reasons': ['stop', 'length'],
        'big.int': 2 ** 40 + 3,
        'negative.int': -42,
        'mixed.array': [1, 'a', true, 2.5],
        // Long, multi-byte: its KeyValue and the span pass the one-byte length fast path.
        'long.text': `héllo wörld ✓ ${'x'.repeat(300)}`,
      },
    },
    trace.setSpan(ROOT_CONTEXT, server),
  );
  client.addEvent('first-token', { 'gen_ai.usage.output_tokens': 1 });
  client.addLink({ context: server.spanContext(), attributes: { why: 'follows' } });
  client.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream said nö' });
  client.end();
  server.setAttribute('http.response.status_code', 502);
  server.end();
  const internal = tracer.startSpan('root internal'); // no parent, kind INTERNAL, status unset
  internal.end();
  return ended;
}

/** Drops what proto3 treats as absent (zero, empty), so both encoders' output compares alike. */
function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const n = normalize(x);
      if (n === 0 || n === '0' || n === '' || n === false) continue;
      if (Array.isArray(n) && n.length === 0) continue;
      if (n && typeof n === 'object' && !Array.isArray(n) && Object.keys(n).length === 0) continue;
      out[k] = n;
    }
    return out;
  }
  return v;
}

/** A processor whose batches are kept here instead of sent. */
function capture(opts: { maxExportBatchSize?: number } = {}) {
  const batches: EncodedBatch[] = [];
  const processor = new ProtoSpanProcessor(
    {
      export: (batch, done) => {
        batches.push(batch);
        done({ code: 0 });
      },
      forceFlush: async () => {},
      shutdown: async () => {},
    },
    opts,
  );
  return { processor, batches };
}

describe('OTLP protobuf span encoding', () => {
  it('decodes with the official proto to what the maintained serializer produces', async () => {
    const spans = makeSpans();
    const { processor, batches } = capture();
    for (const s of spans) processor.onEnd(s);
    await processor.forceFlush();
    expect(batches).toHaveLength(1);
    expect(batches[0]?.count).toBe(3);

    const ours = decodeOtlpTraces(batches[0]?.bytes ?? new Uint8Array());
    const theirs = decodeOtlpTraces(
      ProtobufTraceSerializer.serializeRequest(spans) ?? new Uint8Array(),
    );
    expect(normalize(ours)).toEqual(normalize(theirs));
  });

  it('carries ids, parents, kinds, times and attribute values as the spec says', async () => {
    const spans = makeSpans();
    const { processor, batches } = capture();
    for (const s of spans) processor.onEnd(s);
    await processor.forceFlush();
    const req = decodeOtlpTraces(batches[0]?.bytes ?? new Uint8Array());
    const rs = req.resourceSpans[0];
    expect(rs?.resource?.attributes).toEqual([
      { key: 'service.name', value: { stringValue: 'tollgate' } },
      { key: 'service.version', value: { stringValue: '1.2.3' } },
    ]);
    expect(rs?.scopeSpans[0]?.scope).toEqual({ name: 'tollgate', version: '0.1.0' });
    const out = rs?.scopeSpans[0]?.spans ?? [];
    const byName = (n: string) => out.find((s) => s.name === n) as OtlpSpan;
    const [client, server] = spans;
    const c = byName('chat gpt-4o-mini');
    const s = byName('POST /v1/chat/completions');
    expect(s).toMatchObject({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parentSpanId: '00f067aa0ba902b7',
      traceState: 'vendor=abc,other=x',
      kind: 2, // SPAN_KIND_SERVER
      flags: 0x301, // sampled, parent is remote
    });
    expect(c).toMatchObject({
      spanId: client?.spanContext().spanId,
      parentSpanId: server?.spanContext().spanId,
      kind: 3, // SPAN_KIND_CLIENT
      flags: 0x101,
      status: { code: 2, message: 'upstream said nö' },
      events: [{ name: 'first-token' }],
      links: [{ traceId: s.traceId, spanId: s.spanId }],
    });
    const ns = ([sec, n]: [number, number]) =>
      (BigInt(sec) * 1_000_000_000n + BigInt(n)).toString();
    expect(c.startTimeUnixNano).toBe(ns(client?.startTime ?? [0, 0]));
    expect(c.endTimeUnixNano).toBe(ns(client?.endTime ?? [0, 0]));
    const attr = (k: string) => c.attributes?.find((a) => a.key === k)?.value;
    expect(attr('gen_ai.request.max_tokens')).toEqual({ intValue: '32' });
    expect(attr('big.int')).toEqual({ intValue: String(2 ** 40 + 3) });
    expect(attr('negative.int')).toEqual({ intValue: '-42' });
    expect(attr('gen_ai.request.temperature')).toEqual({ doubleValue: 0.7 });
    expect(attr('gen_ai.response.finish_reasons')).toEqual({
      arrayValue: { values: [{ stringValue: 'stop' }, { stringValue: 'length' }] },
    });
    expect(attr('long.text')?.stringValue).toBe(`héllo wörld ✓ ${'x'.repeat(300)}`);
    const root = byName('root internal');
    expect(root.parentSpanId).toBeUndefined();
    expect(root.kind).toBe(1); // SPAN_KIND_INTERNAL
    expect(root.flags).toBe(0x101);
  });

  it('sends full batches at the size limit and the rest on flush', async () => {
    const spans = makeSpans();
    const { processor, batches } = capture({ maxExportBatchSize: 2 });
    for (let i = 0; i < 3; i++) for (const s of spans) processor.onEnd(s);
    expect(batches.map((b) => b.count)).toEqual([2, 2, 2, 2]);
    await processor.forceFlush();
    expect(batches.map((b) => b.count)).toEqual([2, 2, 2, 2, 1]);
    const all = batches.flatMap(
      (b) => decodeOtlpTraces(b.bytes).resourceSpans[0]?.scopeSpans[0]?.spans ?? [],
    );
    expect(all.map((s) => s.name)).toEqual(
      Array(3)
        .fill(spans.map((s) => s.name))
        .flat(),
    );
  });

  it("skips spans whose trace is not sampled (a caller's traceparent with flags 00)", async () => {
    const [sampled] = makeSpans();
    if (!sampled) throw new Error('no span');
    const unsampled = Object.create(sampled, {
      spanContext: { value: () => ({ ...sampled.spanContext(), traceFlags: 0 }) },
    }) as ReadableSpan;
    const { processor, batches } = capture();
    processor.onEnd(unsampled);
    processor.onEnd(sampled);
    await processor.forceFlush();
    expect(batches.map((b) => b.count)).toEqual([1]);
  });

  it('writes varints and hrtimes exactly at their boundaries', () => {
    const w = new ProtoWriter(4);
    for (const v of [0, 127, 128, 16_383, 16_384, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
      w.pos = 0;
      w.varint(v);
      let got = 0n;
      for (let i = 0; i < w.pos; i++) got |= BigInt((w.buf[i] ?? 0) & 0x7f) << BigInt(7 * i);
      expect(got).toBe(BigInt(v));
    }
    for (const t of [
      [0, 0],
      [1_764_900_000, 999_999_999],
      [4_294_967_295, 999_999_999],
    ] as [number, number][]) {
      w.pos = 0;
      w.hrTime(t);
      expect(w.buf.readBigUInt64LE(0)).toBe(BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]));
    }
  });
});
