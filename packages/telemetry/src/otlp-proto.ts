import type { Attributes, AttributeValue, HrTime } from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';

/*
 * OTLP/HTTP protobuf export of spans, encoded as each span ends (bench/NOTES.md, "OpenTelemetry
 * export on vs off"). The SDK's BatchSpanProcessor keeps every ended span object (its attribute
 * maps, hrtime arrays, contexts) for up to a second, long enough to be promoted to the old
 * generation at a few thousand spans per second, and the OTLP serializer then walks them again
 * and re-encodes every attribute key per span. Here a span becomes ~200 bytes of protobuf the
 * moment it ends (its objects die young), attribute keys are encoded once per process, and a
 * batch is one buffer. Sending, retries, timeouts and the concurrent-export limit stay with the
 * maintained OTLP HTTP transport (@opentelemetry/otlp-exporter-base), which this hands the
 * finished request bytes to.
 *
 * Wire format: opentelemetry/proto/collector/trace/v1/trace_service.proto
 * (ExportTraceServiceRequest → ResourceSpans → ScopeSpans → Span), the field numbers as in the
 * comments below; tests decode the output with the official .proto files and compare it with
 * @opentelemetry/otlp-transformer's own protobuf serializer.
 */

const LEN = 2; // wire type: length-delimited
const VARINT = 0;
const I64 = 1;
const I32 = 5;

/** A growable byte buffer with the protobuf primitives the trace messages need. */
export class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  /** A non-negative integer below 2^53 as a varint. */
  varint(v: number): void {
    this.ensure(10);
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = v > 0xffffffff ? Math.floor(v / 128) : v >>> 7;
    }
    this.buf[this.pos++] = v;
  }

  /** A signed 64-bit integer (int64) as a varint: negatives take ten bytes, two's complement. */
  int64(v: number): void {
    if (v >= 0) {
      this.varint(v);
      return;
    }
    // -v < 2^53 (the attribute value is a safe integer): split into 32-bit halves.
    let lo = (v % 0x100000000) >>> 0;
    let hi = Math.floor(v / 0x100000000) >>> 0;
    this.ensure(10);
    for (let i = 0; i < 9; i++) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.buf[this.pos++] = lo & 0x01;
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** An HrTime ([seconds, nanoseconds]) as fixed64 nanoseconds since the epoch, exactly. */
  hrTime(t: HrTime): void {
    // seconds·1e9 overflows 2^53: split seconds at 2^16 so that every product stays exact.
    const sec = t[0];
    const a = Math.floor(sec / 0x10000) * 1e9; // × 2^16 below
    const b = (sec % 0x10000) * 1e9 + t[1];
    const aLo16 = a % 0x10000;
    const lowSum = aLo16 * 0x10000 + (b % 0x100000000);
    const lo = lowSum % 0x100000000;
    const hi =
      Math.floor(a / 0x10000) + Math.floor(b / 0x100000000) + Math.floor(lowSum / 0x100000000);
    this.ensure(8);
    this.buf.writeUInt32LE(lo >>> 0, this.pos);
    this.buf.writeUInt32LE(hi >>> 0, this.pos + 4);
    this.pos += 8;
  }

  string(s: string): void {
    // Short strings (every name and attribute here): one byte of length, written in place.
    if (s.length < 43) {
      this.ensure(1 + s.length * 3);
      const n = this.buf.write(s, this.pos + 1, 'utf8');
      this.buf[this.pos] = n;
      this.pos += 1 + n;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** Bytes given as hex (trace and span ids), written without an intermediate buffer. */
  hexBytes(hex: string): void {
    const n = hex.length >>> 1;
    this.ensure(1 + n);
    this.buf[this.pos++] = n;
    this.pos += this.buf.write(hex, this.pos, n, 'hex');
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /**
   * Starts a length-delimited message; `end(start)` writes its length. One byte is reserved for
   * the length (most of these messages are under 128 bytes); a longer one is moved up.
   */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }

  end(start: number): void {
    const len = this.pos - start - 1;
    if (len < 0x80) {
      this.buf[start] = len;
      return;
    }
    const extra = varintSize(len) - 1;
    this.ensure(extra);
    this.buf.copyWithin(start + 1 + extra, start + 1, this.pos);
    this.pos += extra;
    let p = start;
    let v = len;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p] = v;
  }
}

export function varintSize(v: number): number {
  let n = 1;
  while (v > 0x7f) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

// KeyValue.key (field 1) with its tag and length, per attribute name: the names are a small
// fixed set (Tollgate's own attributes), so each is encoded once. Bounded for safety.
const keyCache = new Map<string, Buffer>();

function keyBytes(key: string): Buffer {
  let b = keyCache.get(key);
  if (!b) {
    const w = new ProtoWriter(key.length * 3 + 8);
    w.tag(1, LEN);
    w.string(key);
    b = Buffer.from(w.buf.subarray(0, w.pos));
    if (keyCache.size < 1024) keyCache.set(key, b);
  }
  return b;
}

/** AnyValue (common.proto): string 1, bool 2, int 3, double 4, array 5, kvlist 6, bytes 7. */
function writeAnyValue(w: ProtoWriter, v: unknown): void {
  switch (typeof v) {
    case 'string':
      w.tag(1, LEN);
      w.string(v);
      return;
    case 'boolean':
      w.tag(2, VARINT);
      w.byte(v ? 1 : 0);
      return;
    case 'number':
      if (Number.isSafeInteger(v)) {
        w.tag(3, VARINT);
        w.int64(v);
      } else {
        w.tag(4, I64);
        w.double(v);
      }
      return;
    default:
      break;
  }
  if (v instanceof Uint8Array) {
    w.tag(7, LEN);
    w.bytes(v);
  } else if (Array.isArray(v)) {
    w.tag(5, LEN); // ArrayValue { repeated AnyValue values = 1 }
    const a = w.begin();
    for (const item of v) {
      w.tag(1, LEN);
      const s = w.begin();
      if (item !== null && item !== undefined) writeAnyValue(w, item);
      w.end(s);
    }
    w.end(a);
  } else if (v !== null && typeof v === 'object') {
    w.tag(6, LEN); // KeyValueList { repeated KeyValue values = 1 }
    const l = w.begin();
    for (const [k, item] of Object.entries(v)) {
      if (item === undefined) continue;
      w.tag(1, LEN);
      writeKeyValue(w, k, item);
    }
    w.end(l);
  }
}

/** KeyValue { key = 1; AnyValue value = 2 } (the caller has written its tag). */
function writeKeyValue(w: ProtoWriter, key: string, value: unknown): void {
  const kv = w.begin();
  w.raw(keyBytes(key));
  w.tag(2, LEN);
  const v = w.begin();
  writeAnyValue(w, value);
  w.end(v);
  w.end(kv);
}

function writeAttributes(w: ProtoWriter, field: number, attrs: Attributes | undefined): void {
  if (!attrs) return;
  for (const key in attrs) {
    const value: AttributeValue | undefined = attrs[key];
    if (value === undefined) continue;
    w.tag(field, LEN);
    writeKeyValue(w, key, value);
  }
}

// Span.flags: the W3C trace flags plus "the parent's is-remote bit is known" (and set).
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

/** Span (trace.proto) with its field-2 tag, as ScopeSpans.spans carries it. */
export function writeSpan(w: ProtoWriter, span: ReadableSpan): void {
  const ctx = span.spanContext();
  w.tag(2, LEN);
  const s = w.begin();
  w.tag(1, LEN);
  w.hexBytes(ctx.traceId);
  w.tag(2, LEN);
  w.hexBytes(ctx.spanId);
  const traceState = ctx.traceState?.serialize();
  if (traceState) {
    w.tag(3, LEN);
    w.string(traceState);
  }
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    w.tag(4, LEN);
    w.hexBytes(parent.spanId);
  }
  w.tag(5, LEN);
  w.string(span.name);
  w.tag(6, VARINT);
  w.varint(span.kind + 1); // SpanKind INTERNAL = 0 in the API, SPAN_KIND_INTERNAL = 1 in OTLP
  w.tag(7, I64);
  w.hrTime(span.startTime);
  w.tag(8, I64);
  w.hrTime(span.endTime);
  writeAttributes(w, 9, span.attributes);
  if (span.droppedAttributesCount > 0) {
    w.tag(10, VARINT);
    w.varint(span.droppedAttributesCount);
  }
  for (const e of span.events) {
    w.tag(11, LEN); // Event { time 1, name 2, attributes 3, dropped 4 }
    const ev = w.begin();
    w.tag(1, I64);
    w.hrTime(e.time);
    w.tag(2, LEN);
    w.string(e.name);
    writeAttributes(w, 3, e.attributes);
    if (e.droppedAttributesCount) {
      w.tag(4, VARINT);
      w.varint(e.droppedAttributesCount);
    }
    w.end(ev);
  }
  if (span.droppedEventsCount > 0) {
    w.tag(12, VARINT);
    w.varint(span.droppedEventsCount);
  }
  for (const l of span.links) {
    w.tag(13, LEN); // Link { trace_id 1, span_id 2, trace_state 3, attributes 4, dropped 5, flags 6 }
    const lk = w.begin();
    w.tag(1, LEN);
    w.hexBytes(l.context.traceId);
    w.tag(2, LEN);
    w.hexBytes(l.context.spanId);
    const ts = l.context.traceState?.serialize();
    if (ts) {
      w.tag(3, LEN);
      w.string(ts);
    }
    writeAttributes(w, 4, l.attributes);
    if (l.droppedAttributesCount) {
      w.tag(5, VARINT);
      w.varint(l.droppedAttributesCount);
    }
    w.tag(6, I32);
    w.fixed32((l.context.traceFlags & 0xff) | HAS_IS_REMOTE | (l.context.isRemote ? IS_REMOTE : 0));
    w.end(lk);
  }
  if (span.droppedLinksCount > 0) {
    w.tag(14, VARINT);
    w.varint(span.droppedLinksCount);
  }
  w.tag(15, LEN); // Status { message 2, code 3 }
  const st = w.begin();
  if (span.status.message) {
    w.tag(2, LEN);
    w.string(span.status.message);
  }
  if (span.status.code) {
    w.tag(3, VARINT);
    w.varint(span.status.code);
  }
  w.end(st);
  w.tag(16, I32);
  w.fixed32((ctx.traceFlags & 0xff) | HAS_IS_REMOTE | (parent?.isRemote ? IS_REMOTE : 0));
  w.end(s);
}

type Scope = ReadableSpan['instrumentationScope'];
type Resource = ReadableSpan['resource'];

/** Resource { attributes 1 } with ResourceSpans' field-1 tag. */
function resourceBytes(resource: Resource): Buffer {
  const w = new ProtoWriter(256);
  w.tag(1, LEN);
  const r = w.begin();
  writeAttributes(w, 1, resource.attributes);
  w.end(r);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** InstrumentationScope { name 1, version 2 } with ScopeSpans' field-1 tag. */
function scopeBytes(scope: Scope): Buffer {
  const w = new ProtoWriter(128);
  w.tag(1, LEN);
  const s = w.begin();
  w.tag(1, LEN);
  w.string(scope.name);
  if (scope.version) {
    w.tag(2, LEN);
    w.string(scope.version);
  }
  w.end(s);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** The spans of one resource and scope, encoded as they end. */
type Pending = { resource: Resource; scope: Scope; writer: ProtoWriter; count: number };

/** A finished batch: the ExportTraceServiceRequest bytes and how many spans they carry. */
export type EncodedBatch = { bytes: Uint8Array; count: number };

/**
 * ExportTraceServiceRequest { ResourceSpans resource_spans = 1 } around already-encoded spans:
 * ResourceSpans { resource 1, scope_spans 2 }, ScopeSpans { scope 1, spans 2 }.
 */
function encodeRequest(groups: Pending[]): EncodedBatch {
  const parts: { head: Buffer; body: Buffer }[] = [];
  let size = 0;
  let count = 0;
  for (const g of groups) {
    if (g.count === 0) continue;
    const res = resourceBytes(g.resource);
    const scope = scopeBytes(g.scope);
    const spansLen = g.writer.pos;
    const scopeSpansLen = scope.length + spansLen;
    const resourceSpansLen = res.length + 1 + varintSize(scopeSpansLen) + scopeSpansLen;
    const head = new ProtoWriter(res.length + scope.length + 32);
    head.tag(1, LEN);
    head.varint(resourceSpansLen);
    head.raw(res);
    head.tag(2, LEN);
    head.varint(scopeSpansLen);
    head.raw(scope);
    const h = head.buf.subarray(0, head.pos);
    parts.push({ head: h, body: g.writer.buf.subarray(0, spansLen) });
    size += h.length + spansLen;
    count += g.count;
  }
  const out = Buffer.allocUnsafe(size);
  let p = 0;
  for (const { head, body } of parts) {
    p += head.copy(out, p);
    p += body.copy(out, p);
  }
  return { bytes: out, count };
}

/** Where finished batches go (the maintained OTLP HTTP transport, or a test's capture). */
export type BatchSink = {
  export(batch: EncodedBatch, done: (result: { code: number; error?: Error }) => void): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
};

export type ProtoSpanProcessorOptions = {
  /** Spans per export request (default 2048). */
  maxExportBatchSize?: number;
  /** The longest a span waits for its batch to be sent, in ms (default 1000). */
  scheduledDelayMillis?: number;
  /** Called with every failed export (the spans of that batch are lost). */
  onError?: (err: Error) => void;
};

/**
 * A span processor that encodes each sampled span into OTLP protobuf as it ends and hands full
 * batches (or whatever is pending after `scheduledDelayMillis`) to `sink`.
 */
export class ProtoSpanProcessor implements SpanProcessor {
  private readonly groups: Pending[] = [];
  private pending = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly maxBatch: number;
  private readonly delay: number;
  private stopped = false;
  private readonly sink: BatchSink;
  private readonly opts: ProtoSpanProcessorOptions;

  constructor(sink: BatchSink, opts: ProtoSpanProcessorOptions = {}) {
    this.sink = sink;
    this.opts = opts;
    this.maxBatch = opts.maxExportBatchSize ?? 2048;
    this.delay = opts.scheduledDelayMillis ?? 1000;
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.stopped || (span.spanContext().traceFlags & 1) === 0) return; // not sampled
    let g = this.groups[0];
    if (!g || g.resource !== span.resource || g.scope !== span.instrumentationScope) {
      g = this.groups.find(
        (x) => x.resource === span.resource && x.scope === span.instrumentationScope,
      );
      if (!g) {
        g = {
          resource: span.resource,
          scope: span.instrumentationScope,
          writer: new ProtoWriter(),
          count: 0,
        };
        this.groups.push(g);
      }
    }
    writeSpan(g.writer, span);
    g.count++;
    if (++this.pending >= this.maxBatch) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.delay);
      this.timer.unref();
    }
  }

  /** Sends what is pending now. */
  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending === 0) return;
    const batch = encodeRequest(this.groups);
    for (const g of this.groups) {
      g.writer.pos = 0;
      g.count = 0;
    }
    this.pending = 0;
    const sent = new Promise<void>((resolve) => {
      this.sink.export(batch, (result) => {
        if (result.code !== 0)
          this.opts.onError?.(result.error ?? new Error('OTLP trace export failed'));
        resolve();
      });
    });
    this.inFlight.add(sent);
    void sent.then(() => this.inFlight.delete(sent));
  }

  async forceFlush(): Promise<void> {
    this.flush();
    await Promise.all(this.inFlight);
    await this.sink.forceFlush();
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    await this.forceFlush();
    this.stopped = true;
    await this.sink.shutdown();
  }
}
