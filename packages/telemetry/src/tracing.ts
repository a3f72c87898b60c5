import { createRequire } from 'node:module';
import type { Attributes, Span, SpanContext } from '@opentelemetry/api';
import type {
  CallOptions,
  ChatRequest,
  ChatResponse,
  EmbeddingRequest,
  Provider,
  ProviderRegistry,
  StreamEvent,
  Usage,
} from '@tollgate/providers';
import { LeanTracer } from './lean-tracer.ts';
import { type EncodedBatch, ProtoSpanProcessor } from './otlp-proto.ts';

/*
 * OpenTelemetry traces, built only when OTEL_EXPORTER_OTLP_ENDPOINT is set: an HTTP server span
 * per request (continuing the caller's W3C traceparent) and a GenAI client span per upstream
 * model call (semantic conventions for generative AI: gen_ai.*), whose traceparent goes to the
 * upstream. Parents travel explicitly (a traceparent header on the canonical request), not
 * through an async-context manager: with tracing off nothing here runs at all, and with it on
 * no AsyncLocalStorage hop is paid per await.
 *
 * The OpenTelemetry packages are loaded only when tracing is on (their import cost ~0.5 s of start
 * per process on a loaded 2-core machine): synchronously, through require() of their CommonJS
 * builds, so createDeps() stays synchronous.
 */

type Otel = {
  api: typeof import('@opentelemetry/api');
  core: typeof import('@opentelemetry/core');
  exporter: typeof import('@opentelemetry/exporter-trace-otlp-http');
  exporterBase: typeof import('@opentelemetry/otlp-exporter-base/node-http');
  transformer: typeof import('@opentelemetry/otlp-transformer');
  resources: typeof import('@opentelemetry/resources');
  sdk: typeof import('@opentelemetry/sdk-trace');
};

function loadOtel(): Otel {
  const require = createRequire(import.meta.url);
  return {
    api: require('@opentelemetry/api'),
    core: require('@opentelemetry/core'),
    exporter: require('@opentelemetry/exporter-trace-otlp-http'),
    exporterBase: require('@opentelemetry/otlp-exporter-base/node-http'),
    transformer: require('@opentelemetry/otlp-transformer'),
    resources: require('@opentelemetry/resources'),
    sdk: require('@opentelemetry/sdk-trace'),
  };
}

/** A span handle (for callers that keep a request's server span). */
export type TraceSpan = Span;

export type Tracing = {
  /** The HTTP server span of an incoming request, child of its `traceparent` when it sent one. */
  startServerSpan(method: string, path: string, headers: Record<string, unknown>): Span;
  /** Names (method + route template) and ends the server span once the response is done. */
  endServerSpan(span: Span, method: string, route: string, status: number): void;
  /** The W3C `traceparent` that makes a callee's spans children of `span`. */
  traceparentOf(span: Span): string;
  /** The providers with a GenAI span around every call. */
  traceProviders(providers: ProviderRegistry): ProviderRegistry;
  /** An internal span of background work (a batch job chunk): the root of its own trace. */
  startJobSpan(name: string, attributes: Attributes): Span;
  /** Ends a job span, marked failed when `error` is given. */
  endJobSpan(span: Span, error?: unknown): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
};

export type TracingOptions = {
  /** OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT); traces go to `<endpoint>/v1/traces`. */
  endpoint: string;
  serviceName?: string;
  serviceVersion?: string;
  /** OTEL_EXPORTER_OTLP_PROTOCOL: `http/protobuf` (the default) or `http/json`. */
  protocol?: 'http/protobuf' | 'http/json';
};

// The packages once loaded: the same modules for every Tracing of the process.
let loaded: Otel | undefined;

function otel(): Otel {
  loaded ??= loadOtel();
  return loaded;
}

/*
 * W3C trace context (https://www.w3.org/TR/trace-context/), read and written here rather than
 * through the API's propagator: per request that took a carrier object, a getter, a regex with
 * look-aheads and two Context copies per hop; this is a few slices. Same rules: a version other
 * than ff; version 00 exactly 55 characters, later versions at least that (and a dash after);
 * lower-case hex; all-zero ids invalid. `tracestate` is kept when the caller sent one.
 */
const TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/** The span context a `traceparent` header names, or undefined when it is absent or invalid. */
export function parseTraceparent(value: unknown, tracestate?: unknown): SpanContext | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  const version = v.slice(0, 2);
  if (version === 'ff') return undefined;
  if (v.length !== 55 && (version === '00' || v.length < 55 || v[55] !== '-')) return undefined;
  const head = v.length === 55 ? v : v.slice(0, 55);
  if (!TRACEPARENT.test(head)) return undefined;
  const traceId = head.slice(3, 35);
  const spanId = head.slice(36, 52);
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  const ctx: SpanContext = {
    traceId,
    spanId,
    traceFlags: Number.parseInt(head.slice(53, 55), 16) & 0xff,
    isRemote: true,
  };
  const state = Array.isArray(tracestate) ? tracestate.join(',') : tracestate;
  if (typeof state === 'string' && state.length > 0)
    ctx.traceState = new (otel().core.TraceState)(state);
  return ctx;
}

/** The `traceparent` header naming `span` as the parent. */
export function formatTraceparent(ctx: SpanContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.traceFlags & 1 ? '01' : '00'}`;
}

function traceparent(span: Span): string {
  return formatTraceparent(span.spanContext());
}

/** Tracing, or undefined (off) without an endpoint. */
export function createTracing(opts: TracingOptions | { endpoint: undefined }): Tracing | undefined {
  if (opts.endpoint === undefined) return undefined;
  const o = opts as TracingOptions;
  const { api, exporter: otlpJson, exporterBase, resources, sdk, transformer } = otel();
  const url = `${o.endpoint.replace(/\/+$/, '')}/v1/traces`;
  const batching = { scheduledDelayMillis: 1000, maxExportBatchSize: 2048 };
  const processor =
    o.protocol === 'http/json'
      ? new sdk.BatchSpanProcessor({
          exporter: new otlpJson.OTLPTraceExporter({ url }),
          ...batching,
          maxQueueSize: 16_384,
        })
      : new ProtoSpanProcessor(
          // The maintained OTLP/HTTP transport (retries, timeout, concurrent-export limit,
          // OTEL_EXPORTER_OTLP_HEADERS / _TIMEOUT / _COMPRESSION) sends the encoded batches.
          exporterBase.createOtlpHttpExportDelegate<EncodedBatch, unknown>(
            exporterBase.convertLegacyHttpOptions({ url }, 'TRACES', 'v1/traces', {
              'Content-Type': 'application/x-protobuf',
            }),
            {
              serializeRequest: (batch) => batch.bytes,
              deserializeResponse: (data) =>
                transformer.ProtobufTraceSerializer.deserializeResponse(data),
            },
            'otlp_http_span_exporter',
            { name: 'span', countItems: (batch) => batch.count },
            undefined,
          ),
          batching,
        );
  // Spans from the lean tracer (lean-tracer.ts: the SDK tracer's per-span work is a third of
  // tracing's cost), exported in large batches off the request path: fewer, bigger export
  // requests cost less per span. Protobuf (the OTLP default): encoded as each span ends
  // (otlp-proto.ts); JSON: the SDK's batch processor and exporter.
  const tracer = new LeanTracer({
    resource: resources.resourceFromAttributes({
      'service.name': o.serviceName ?? 'tollgate',
      ...(o.serviceVersion ? { 'service.version': o.serviceVersion } : {}),
    }),
    scope: { name: 'tollgate' },
    processor,
    spanContextOf: (ctx) => api.trace.getSpanContext(ctx),
  });
  return {
    startServerSpan(method, path, headers) {
      return tracer.startChild(
        method,
        api.SpanKind.SERVER,
        { 'http.request.method': method, 'url.path': path },
        parseTraceparent(headers.traceparent, headers.tracestate),
      );
    },
    endServerSpan(span, method, route, status) {
      span.updateName(`${method} ${route}`);
      span.setAttribute('http.route', route);
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR });
      span.end();
    },
    traceparentOf: traceparent,
    traceProviders(providers) {
      const out: Record<string, Provider> = {};
      for (const [name, p] of Object.entries(providers))
        if (p) out[name] = tracedProvider(p, tracer);
      return out;
    },
    startJobSpan(name, attributes) {
      // A trace root; the attributes copied (the span keeps and extends its own map).
      return tracer.startChild(name, api.SpanKind.INTERNAL, { ...attributes }, undefined);
    },
    endJobSpan(span, error) {
      if (error !== undefined) fail(span, error);
      span.end();
    },
    forceFlush: () => processor.forceFlush(),
    shutdown: () => processor.shutdown(),
  };
}

function requestAttributes(op: 'chat' | 'embeddings', provider: string, model: string): Attributes {
  return {
    'gen_ai.operation.name': op,
    'gen_ai.provider.name': provider,
    'gen_ai.request.model': model,
  };
}

function chatAttributes(req: ChatRequest): Attributes {
  const a: Attributes = {};
  if (req.max_tokens !== undefined) a['gen_ai.request.max_tokens'] = req.max_tokens;
  if (req.temperature !== undefined) a['gen_ai.request.temperature'] = req.temperature;
  if (req.top_p !== undefined) a['gen_ai.request.top_p'] = req.top_p;
  return a;
}

function setUsage(span: Span, u: Usage): void {
  span.setAttribute('gen_ai.usage.input_tokens', u.inputTokens);
  span.setAttribute('gen_ai.usage.output_tokens', u.outputTokens);
  // Only when there are any: every attribute is bytes per span in the export.
  if (u.cachedInputTokens > 0)
    span.setAttribute('gen_ai.usage.cache_read.input_tokens', u.cachedInputTokens);
  if (u.cacheWriteTokens > 0)
    span.setAttribute('gen_ai.usage.cache_creation.input_tokens', u.cacheWriteTokens);
}

function fail(span: Span, err: unknown): void {
  const kind = (err as { kind?: unknown } | null)?.kind;
  span.setAttribute('error.type', typeof kind === 'string' ? kind : 'error');
  span.setStatus({
    code: otel().api.SpanStatusCode.ERROR,
    message: err instanceof Error ? err.message : String(err),
  });
}

/** Runs `fn` as the span's work: a failure marks the span, the span ends either way. */
async function inSpan<T>(span: Span, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    fail(span, e);
    throw e;
  } finally {
    span.end();
  }
}

/** A provider whose every call is a GenAI client span, its traceparent sent upstream. */
function tracedProvider(inner: Provider, tracer: LeanTracer): Provider {
  const start = (
    op: 'chat' | 'embeddings',
    req: { model: string; headers?: Record<string, string> },
    extra: Attributes,
  ) => {
    const attributes = requestAttributes(op, inner.name, req.model);
    for (const k in extra) attributes[k] = extra[k];
    return tracer.startChild(
      `${op} ${req.model}`,
      otel().api.SpanKind.CLIENT,
      attributes,
      parseTraceparent(req.headers?.traceparent, req.headers?.tracestate),
    );
  };
  const withParent = (req: ChatRequest, span: Span): ChatRequest => ({
    ...req,
    headers: { ...req.headers, traceparent: traceparent(span) },
  });
  const done = (span: Span, r: ChatResponse) => {
    setUsage(span, r.usage);
    span.setAttribute('gen_ai.response.id', r.id);
    span.setAttribute('gen_ai.response.finish_reasons', [r.finishReason]);
  };
  const traced: Provider = {
    name: inner.name,
    async chat(req: ChatRequest, opts: CallOptions) {
      // inSpan's shape inline: one async frame per call on the hot path, no closure.
      const span = start('chat', req, chatAttributes(req));
      try {
        const r = await inner.chat(withParent(req, span), opts);
        done(span, r);
        return r;
      } catch (e) {
        fail(span, e);
        throw e;
      } finally {
        span.end();
      }
    },
    async *chatStream(req: ChatRequest, opts: CallOptions): AsyncIterable<StreamEvent> {
      const span = start('chat', req, { ...chatAttributes(req), 'gen_ai.request.stream': true });
      try {
        for await (const ev of inner.chatStream(withParent(req, span), opts)) {
          if (ev.type === 'usage') setUsage(span, ev.usage);
          else if (ev.type === 'finish')
            span.setAttribute('gen_ai.response.finish_reasons', [ev.finishReason]);
          yield ev;
        }
      } catch (e) {
        fail(span, e);
        throw e;
      } finally {
        span.end();
      }
    },
    embed(req: EmbeddingRequest, opts: CallOptions) {
      const span = start('embeddings', req, {});
      return inSpan(span, async () => {
        const r = await inner.embed(
          { ...req, headers: { ...req.headers, traceparent: traceparent(span) } },
          opts,
        );
        span.setAttribute('gen_ai.usage.input_tokens', r.usage.inputTokens);
        return r;
      });
    },
  };
  if (inner.countTokens) traced.countTokens = inner.countTokens.bind(inner);
  return traced;
}
