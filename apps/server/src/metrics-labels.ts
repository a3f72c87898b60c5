import { appRouter, createOpenApiDocument } from '@tollgate/api';
import type { FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The bounded route label of this request (metrics and the request log line). */
    routeTemplate?: string;
    /** The catalog model a gateway call resolved to; set by the gateway routes for the log line. */
    logModel?: string;
    /** Set when the reply was an event stream (the request log line says `stream: true`). */
    logStream?: boolean;
  }
}

/** What every request that matched no route (or no REST operation) is counted as. */
export const UNKNOWN_ROUTE = 'unknown';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

type Operation = { method: string; template: string; pattern: RegExp; params: number };

let operations: Operation[] | undefined;
let procedures: Set<string> | undefined;

// The REST bridge is one catch-all route (`/api/*`); its operations are the OpenAPI paths.
function restOperations(): Operation[] {
  if (operations) return operations;
  const doc = createOpenApiDocument('/api', '0.0.0');
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const template = `/api${path}`;
    const escaped = template
      .split(/(\{[^}]+\})/)
      .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
      .join('');
    const pattern = new RegExp(`^${escaped}/?$`);
    const params = (template.match(/\{/g) ?? []).length;
    for (const method of Object.keys(item ?? {})) {
      ops.push({ method: method.toUpperCase(), template, pattern, params });
    }
  }
  // `/api/keys/mine` before `/api/keys/{id}`: the most literal template wins.
  ops.sort((a, b) => a.params - b.params);
  operations = ops;
  return ops;
}

function procedureNames(): Set<string> {
  procedures ??= new Set(Object.keys(appRouter._def.procedures));
  return procedures;
}

/** `/api/keys/:id` → `/api/keys/{id}`, the OpenAPI spelling PRODUCT.md uses for labels. */
const openApiSpellings = new Map<string, string>(); // one entry per registered route
const openApiStyle = (url: string) => {
  let spelled = openApiSpellings.get(url);
  if (spelled === undefined) {
    spelled = url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    openApiSpellings.set(url, spelled);
  }
  return spelled;
};

/**
 * The route template of a request, never its raw path: bounded by the routes and procedures that
 * exist. Must run before the handler (the REST bridge rewrites `req.raw.url`).
 */
export function resolveRouteTemplate(req: FastifyRequest): string {
  const route = req.routeOptions.url;
  if (!route) return UNKNOWN_ROUTE;
  if (route === '/api/*') {
    const path = (req.url.split('?')[0] ?? '').replace(/\/{2,}/g, '/');
    const op = restOperations().find((o) => o.method === req.method && o.pattern.test(path));
    return op ? op.template : UNKNOWN_ROUTE;
  }
  if (route === '/trpc/:path') {
    const name = (req.params as { path?: string }).path ?? '';
    // A batch (`a,b`) or an unknown name is one series, not one per spelling.
    return procedureNames().has(name) ? `/trpc/${name}` : '/trpc/{path}';
  }
  return openApiStyle(route);
}

/** The method as a label: anything exotic is one series. */
export const methodLabel = (method: string) => (METHODS.has(method) ? method : 'OTHER');

/**
 * The model a request body asks for, for the request log line only (never a metric label: it
 * is caller input). Gateway routes may overwrite `req.logModel` with the resolved catalog name.
 */
export function requestedModel(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || !('model' in body)) return undefined;
  const model = (body as { model: unknown }).model;
  return typeof model === 'string' && model.length > 0 ? model.slice(0, 200) : undefined;
}
