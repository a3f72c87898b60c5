import { randomFillSync } from 'node:crypto';
import type {
  Attributes,
  AttributeValue,
  Context,
  Exception,
  HrTime,
  Link,
  Span,
  SpanAttributes,
  SpanContext,
  SpanOptions,
  SpanStatus,
  TimeInput,
  Tracer,
} from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor, TimedEvent } from '@opentelemetry/sdk-trace';

/*
 * Spans for Tollgate's two span kinds per request, without the SDK tracer's per-span work
 * (bench/NOTES.md, "OpenTelemetry export on vs off"): the SDK's Tracer.startSpan cleans the
 * attributes twice (a WeakSet allocated per attribute value to guard against cycles), records
 * its own span metrics, runs the sampler, builds Contexts, and keeps three hrtime arrays per
 * span. Tollgate's attributes are a fixed set of strings, numbers, booleans and string arrays
 * set by its own code, so none of that buys anything here; the profile of the serving process
 * put the SDK span machinery at about a third of tracing's cost.
 *
 * What stays as in the SDK: spans are ReadableSpans (so the SDK's own batch processor and OTLP
 * exporters take them, as the JSON export does), ids are random (crypto), a span continues its
 * parent's trace and trace flags (an unsampled caller's spans are recorded but not exported, as
 * the SDK's default ParentBased(AlwaysOn) sampler decides), times are wall-clock at start plus a
 * monotonic duration. Every sampled span is exported: there is no sampling of our own.
 */

const SAMPLED = 1;
const SPAN_KIND_INTERNAL = 0;
const STATUS_UNSET = 0;
const STATUS_OK = 1;
const STATUS_ERROR = 2;

// Random ids from a pooled buffer: one crypto call per 512 ids instead of one per id.
const pool = Buffer.allocUnsafe(4096);
let poolPos = pool.length;

function randomHex(bytes: number): string {
  for (;;) {
    if (poolPos + bytes > pool.length) {
      randomFillSync(pool);
      poolPos = 0;
    }
    const hex = pool.toString('hex', poolPos, poolPos + bytes);
    poolPos += bytes;
    // All-zero ids are invalid (W3C trace context); at 2^-64 odds, draw again.
    if (hex !== '0'.repeat(bytes * 2)) return hex;
  }
}

function msToHr(ms: number): HrTime {
  const sec = Math.floor(ms / 1000);
  return [sec, Math.round((ms - sec * 1000) * 1e6)];
}

function toHr(t: TimeInput): HrTime {
  if (Array.isArray(t)) return t as HrTime;
  if (t instanceof Date) return msToHr(t.getTime());
  // A number is epoch milliseconds, or performance.now() milliseconds when it is that small.
  return msToHr(t < performance.timeOrigin ? t + performance.timeOrigin : t);
}

type Resource = ReadableSpan['resource'];
type Scope = ReadableSpan['instrumentationScope'];

class LeanSpan implements Span, ReadableSpan {
  name: string;
  readonly kind: number;
  readonly parentSpanContext: SpanContext | undefined;
  readonly attributes: Attributes;
  readonly startTime: HrTime;
  endTime: HrTime = [0, 0];
  status: SpanStatus = { code: STATUS_UNSET };
  readonly links: Link[];
  readonly events: TimedEvent[] = [];
  readonly resource: Resource;
  readonly instrumentationScope: Scope;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  ended = false;
  private readonly ctx: SpanContext;
  private readonly startMs: number;
  private readonly startPerf: number;
  private readonly processor: SpanProcessor;

  constructor(
    tracer: LeanTracer,
    name: string,
    kind: number,
    attributes: Attributes,
    parent: SpanContext | undefined,
    links: Link[],
    startTime: TimeInput | undefined,
  ) {
    this.name = name;
    this.kind = kind;
    this.attributes = attributes;
    this.parentSpanContext = parent;
    this.links = links;
    this.resource = tracer.resource;
    this.instrumentationScope = tracer.scope;
    this.processor = tracer.processor;
    this.ctx = {
      traceId: parent ? parent.traceId : randomHex(16),
      spanId: randomHex(8),
      // Continue the parent's sampling decision; a root span is sampled.
      traceFlags: parent ? parent.traceFlags & SAMPLED : SAMPLED,
    };
    if (parent?.traceState) this.ctx.traceState = parent.traceState;
    // Wall clock at the start (as Date.now(): no drift from the monotonic clock over a long
    // uptime), the monotonic clock for the duration.
    this.startPerf = performance.now();
    this.startMs = startTime === undefined ? Date.now() : hrToMs(toHr(startTime));
    this.startTime = msToHr(this.startMs);
  }

  private nowMs(): number {
    return this.startMs + (performance.now() - this.startPerf);
  }

  get duration(): HrTime {
    if (!this.ended) return [-1, -1];
    const ms = hrToMs(this.endTime) - this.startMs;
    return msToHr(Math.max(ms, 0));
  }

  spanContext(): SpanContext {
    return this.ctx;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (!this.ended && value !== undefined && key.length > 0) this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: SpanAttributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: SpanAttributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    const isTime =
      typeof attributesOrTime === 'number' ||
      attributesOrTime instanceof Date ||
      Array.isArray(attributesOrTime);
    const at = time ?? (isTime ? (attributesOrTime as TimeInput) : undefined);
    this.events.push({
      name,
      time: at === undefined ? msToHr(this.nowMs()) : toHr(at),
      attributes: isTime ? {} : { ...(attributesOrTime as SpanAttributes | undefined) },
      droppedAttributesCount: 0,
    });
    return this;
  }

  addLink(link: Link): this {
    if (!this.ended) this.links.push(link);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const l of links) this.addLink(l);
    return this;
  }

  setStatus(status: SpanStatus): this {
    // As the SDK: UNSET changes nothing, OK is final, a message only with ERROR.
    if (this.ended || status.code === STATUS_UNSET || this.status.code === STATUS_OK) return this;
    this.status =
      status.code === STATUS_ERROR && typeof status.message === 'string'
        ? { code: status.code, message: status.message }
        : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    const ms = endTime === undefined ? this.nowMs() : hrToMs(toHr(endTime));
    this.endTime = msToHr(Math.max(ms, this.startMs));
    this.ended = true;
    this.processor.onEnd(this);
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const a: SpanAttributes = {};
    if (typeof exception === 'string') a['exception.message'] = exception;
    else {
      const type = exception.code ?? exception.name;
      if (type !== undefined) a['exception.type'] = String(type);
      if (exception.message) a['exception.message'] = exception.message;
      if (exception.stack) a['exception.stacktrace'] = exception.stack;
    }
    this.addEvent('exception', a, time);
  }
}

function hrToMs(t: HrTime): number {
  return t[0] * 1000 + t[1] / 1e6;
}

/** The span context a Context carries (a span set by `trace.setSpan` / `setSpanContext`). */
type SpanContextOf = (ctx: Context) => SpanContext | undefined;

/**
 * A Tracer (the API's interface) whose spans are LeanSpans handed to `processor` as they end.
 * `startChild` is the fast path Tollgate's own code takes: the parent as a SpanContext (or none),
 * no Context object built.
 */
export class LeanTracer implements Tracer {
  readonly resource: Resource;
  readonly scope: Scope;
  readonly processor: SpanProcessor;
  private readonly spanContextOf: SpanContextOf;

  constructor(opts: {
    resource: Resource;
    scope: Scope;
    processor: SpanProcessor;
    spanContextOf: SpanContextOf;
  }) {
    this.resource = opts.resource;
    this.scope = opts.scope;
    this.processor = opts.processor;
    this.spanContextOf = opts.spanContextOf;
  }

  startChild(
    name: string,
    kind: number,
    attributes: Attributes,
    parent: SpanContext | undefined,
  ): Span {
    return new LeanSpan(this, name, kind, attributes, parent, [], undefined);
  }

  startSpan(name: string, options: SpanOptions = {}, context?: Context): Span {
    const parent = options.root || !context ? undefined : this.spanContextOf(context);
    const attributes: Attributes = {};
    for (const key in options.attributes) {
      const v = options.attributes[key];
      if (v !== undefined) attributes[key] = v;
    }
    return new LeanSpan(
      this,
      name,
      options.kind ?? SPAN_KIND_INTERNAL,
      attributes,
      parent,
      [...(options.links ?? [])],
      options.startTime,
    );
  }

  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    ...args: unknown[]
  ): ReturnType<F> {
    // Tollgate passes parents explicitly (no context manager): the span is handed to `fn` only.
    const fn = args.at(-1) as F;
    const options = (args.length > 1 ? args[0] : undefined) as SpanOptions | undefined;
    const context = (args.length > 2 ? args[1] : undefined) as Context | undefined;
    return fn(this.startSpan(name, options, context)) as ReturnType<F>;
  }
}
