import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import protobuf from 'protobufjs';

/**
 * An OTLP/HTTP trace receiver for tests: POST /v1/traces with a protobuf body (decoded with the
 * official opentelemetry-proto definitions in ../otlp-proto) or a JSON one. Spans come out in the
 * OTLP/JSON shape either way (ids in hex, 64-bit integers as strings, enums as numbers), so a
 * test reads them alike whichever encoding the exporter chose.
 */

/** An attribute value as OTLP/JSON carries it. */
export type OtlpAnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
  bytesValue?: string;
};
export type OtlpKeyValue = { key: string; value: OtlpAnyValue };

/** One span as OTLP/JSON carries it. */
export type OtlpSpan = {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: OtlpKeyValue[];
  droppedAttributesCount?: number;
  events?: { timeUnixNano: string; name: string; attributes?: OtlpKeyValue[] }[];
  links?: { traceId: string; spanId: string; attributes?: OtlpKeyValue[]; flags?: number }[];
  status?: { code?: number; message?: string };
  flags?: number;
};

export type OtlpTraceRequest = {
  resourceSpans: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans: { scope?: { name: string; version?: string }; spans: OtlpSpan[] }[];
  }[];
};

let requestType: protobuf.Type | undefined;

function exportRequestType(): protobuf.Type {
  if (!requestType) {
    const root = new protobuf.Root();
    const dir = join(import.meta.dirname, '..', 'otlp-proto');
    root.resolvePath = (_origin, target) => join(dir, target);
    root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto');
    requestType = root.lookupType(
      'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
    );
  }
  return requestType;
}

const hexOf = (b64: unknown) =>
  typeof b64 === 'string' ? Buffer.from(b64, 'base64').toString('hex') : undefined;

/** Decodes an OTLP/HTTP protobuf trace export body into the OTLP/JSON shape. */
export function decodeOtlpTraces(body: Uint8Array): OtlpTraceRequest {
  const type = exportRequestType();
  const obj = type.toObject(type.decode(body), {
    longs: String,
    enums: Number,
    bytes: String,
  }) as OtlpTraceRequest;
  for (const rs of obj.resourceSpans ?? [])
    for (const ss of rs.scopeSpans ?? [])
      for (const s of ss.spans ?? []) {
        s.traceId = hexOf(s.traceId) ?? '';
        s.spanId = hexOf(s.spanId) ?? '';
        const parent = hexOf(s.parentSpanId);
        if (parent) s.parentSpanId = parent;
        else delete s.parentSpanId;
        for (const l of s.links ?? []) {
          l.traceId = hexOf(l.traceId) ?? '';
          l.spanId = hexOf(l.spanId) ?? '';
        }
      }
  obj.resourceSpans ??= [];
  return obj;
}

export type OtlpReceiver = {
  url: string;
  /** Every span received, in arrival order. */
  spans: OtlpSpan[];
  /** Every export request received: its content type and decoded body. */
  requests: { contentType: string; body: OtlpTraceRequest }[];
  server: Server;
  close(): Promise<void>;
};

/** Starts a receiver on 127.0.0.1; point OTEL_EXPORTER_OTLP_ENDPOINT at `url`. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: OtlpSpan[] = [];
  const requests: OtlpReceiver['requests'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const contentType = req.headers['content-type'] ?? '';
      const raw = Buffer.concat(chunks);
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      let body: OtlpTraceRequest;
      try {
        body = contentType.includes('json')
          ? (JSON.parse(raw.toString('utf8')) as OtlpTraceRequest)
          : decodeOtlpTraces(raw);
      } catch {
        res.writeHead(400).end();
        return;
      }
      requests.push({ contentType, body });
      for (const rs of body.resourceSpans)
        for (const ss of rs.scopeSpans) spans.push(...(ss.spans ?? []));
      // An empty ExportTraceServiceResponse in the request's own encoding.
      if (contentType.includes('json'))
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    requests,
    server,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
