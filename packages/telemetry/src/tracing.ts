import { createRequire } from 'node:module';
import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api';
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
  resources: typeof import('@opentelemetry/resources');
  sdk: typeof import('@opentelemetry/sdk-trace');
};

function loadOtel(): Otel {
  const require = createRequire(import.meta.url);
  return {
    api: require('@opentelemetry/api'),
    core: require('@opentelemetry/core'),
    exporter: require('@opentelemetry/exporter-trace-otlp-http'),
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
};

type Loaded = Otel & { propagator: InstanceType<Otel['core']['W3CTraceContextPropagator']> };

// The packages once loaded: the same modules for every Tracing of the process.
let loaded: Loaded | undefined;

function otel(): Loaded {
  if (!loaded) {
    const m = loadOtel();
    loaded = { ...m, propagator: new m.core.W3CTraceContextPropagator() };
  }
  return loaded;
}

function contextFrom(carrier: Record<string, unknown> | undefined): Context {
  const { api, propagator } = otel();
  return carrier
    ? propagator.extract(api.ROOT_CONTEXT, carrier, api.defaultTextMapGetter)
    : api.ROOT_CONTEXT;
}

function traceparent(span: Span): string {
  const { api, propagator } = otel();
  const carrier: Record<string, string> = {};
  propagator.inject(api.trace.setSpan(api.ROOT_CONTEXT, span), carrier, api.defaultTextMapSetter);
  return carrier.traceparent ?? '';
}

/** Tracing, or undefined (off) without an endpoint. */
export function createTracing(opts: TracingOptions | { endpoint: undefined }): Tracing | undefined {
  if (opts.endpoint === undefined) return undefined;
  const o = opts as TracingOptions;
  const { api, exporter: otlp, resources, sdk } = otel();
  const exporter = new otlp.OTLPTraceExporter({
    url: `${o.endpoint.replace(/\/+$/, '')}/v1/traces`,
  });
  const provider = new sdk.TracerProvider({
    resource: resources.resourceFromAttributes({
      'service.name': o.serviceName ?? 'tollgate',
      ...(o.serviceVersion ? { 'service.version': o.serviceVersion } : {}),
    }),
    // Exported in large batches off the request path: fewer, bigger export requests cost less
    // per span; the queue holds a few seconds of a busy process's spans (two per model call).
    spanProcessors: [
      new sdk.BatchSpanProcessor({
        exporter,
        scheduledDelayMillis: 1000,
        maxExportBatchSize: 2048,
        maxQueueSize: 16_384,
      }),
    ],
  });
  const tracer = provider.getTracer('tollgate');
  return {
    startServerSpan(method, path, headers) {
      return tracer.startSpan(
        method,
        {
          kind: api.SpanKind.SERVER,
          attributes: { 'http.request.method': method, 'url.path': path },
        },
        contextFrom(headers),
      );
    },
    endServerSpan(span, method, route, status) {
      span.updateName(`${method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': status });
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
      return tracer.startSpan(name, { kind: api.SpanKind.INTERNAL, attributes }, api.ROOT_CONTEXT);
    },
    endJobSpan(span, error) {
      if (error !== undefined) fail(span, error);
      span.end();
    },
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
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

function usageAttributes(u: Usage): Attributes {
  const a: Attributes = {
    'gen_ai.usage.input_tokens': u.inputTokens,
    'gen_ai.usage.output_tokens': u.outputTokens,
  };
  // Only when there are any: every attribute is an object per span in the export.
  if (u.cachedInputTokens > 0) a['gen_ai.usage.cache_read.input_tokens'] = u.cachedInputTokens;
  if (u.cacheWriteTokens > 0) a['gen_ai.usage.cache_creation.input_tokens'] = u.cacheWriteTokens;
  return a;
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
function tracedProvider(inner: Provider, tracer: Tracer): Provider {
  const start = (
    op: 'chat' | 'embeddings',
    req: { model: string; headers?: Record<string, string> },
    extra: Attributes,
  ) =>
    tracer.startSpan(
      `${op} ${req.model}`,
      {
        kind: otel().api.SpanKind.CLIENT,
        attributes: { ...requestAttributes(op, inner.name, req.model), ...extra },
      },
      contextFrom(req.headers),
    );
  const withParent = (req: ChatRequest, span: Span): ChatRequest => ({
    ...req,
    headers: { ...req.headers, traceparent: traceparent(span) },
  });
  const done = (span: Span, r: ChatResponse) => {
    span.setAttributes({
      ...usageAttributes(r.usage),
      'gen_ai.response.id': r.id,
      'gen_ai.response.finish_reasons': [r.finishReason],
    });
  };
  const traced: Provider = {
    name: inner.name,
    chat(req: ChatRequest, opts: CallOptions) {
      const span = start('chat', req, chatAttributes(req));
      return inSpan(span, async () => {
        const r = await inner.chat(withParent(req, span), opts);
        done(span, r);
        return r;
      });
    },
    async *chatStream(req: ChatRequest, opts: CallOptions): AsyncIterable<StreamEvent> {
      const span = start('chat', req, { ...chatAttributes(req), 'gen_ai.request.stream': true });
      try {
        for await (const ev of inner.chatStream(withParent(req, span), opts)) {
          if (ev.type === 'usage') span.setAttributes(usageAttributes(ev.usage));
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
