import {
  type GenerateOpenApiDocumentOptions,
  generateOpenApiDocument,
  type OpenAPIObject,
} from 'trpc-to-openapi';
import { appRouter } from './root.ts';

/** Paths anyone may call; trpc-to-openapi marks every operation protected, so we unmark these. */
const publicOperations = new Set(['/auth/login', '/auth/refresh']);

const ErrorBody = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: {
          type: 'string',
          description: 'machine-readable reason, e.g. not_found, budget_exceeded',
        },
        message: { type: 'string' },
        issues: {
          type: 'array',
          items: { type: 'object' },
          description: 'validation issues (zod)',
        },
      },
    },
  },
} as const;

/**
 * Operations served outside the REST bridge (the server's /v1 routes), merged into the document:
 * their paths (zod schemas, as trpc-to-openapi's `paths` option takes them, with their own error
 * bodies, left as they are), extra security schemes and tag descriptions.
 */
export type ExtraOpenApi = {
  paths?: GenerateOpenApiDocumentOptions['paths'];
  securitySchemes?: NonNullable<GenerateOpenApiDocumentOptions['securitySchemes']>;
  tags?: { name: string; description: string }[];
};

/**
 * The REST bridge's OpenAPI 3.1 document. trpc-to-openapi describes its flat error body; our /api
 * sends `{ error: { code, message, issues } }`, so every error response is patched to say so.
 */
export function createOpenApiDocument(
  baseUrl: string,
  version: string,
  extra: ExtraOpenApi = {},
): OpenAPIObject {
  const extraPaths = new Set(Object.keys(extra.paths ?? {}));
  const doc = generateOpenApiDocument(appRouter, {
    title: 'Tollgate',
    description: 'Self-hosted LLM gateway: REST bridge over the tRPC router.',
    version,
    baseUrl,
    securitySchemes: {
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        description: 'An access JWT from /api/auth/login or an API key (tg_…)',
      },
    },
    ...(extra.paths ? { paths: extra.paths } : {}),
  });
  doc.components ??= {};
  doc.components.schemas = { ...doc.components.schemas, Error: ErrorBody as never };
  // Added after generation: trpc-to-openapi would list every scheme on every /api operation.
  doc.components.securitySchemes = {
    ...doc.components.securitySchemes,
    ...extra.securitySchemes,
  };
  if (extra.tags) doc.tags = [...(doc.tags ?? []), ...extra.tags];
  // usage.export streams text/csv, which a JSON procedure cannot describe: the server serves
  // GET /api/usage.csv itself (apps/server/src/usage-csv.ts) with usage.summary's parameters.
  const summary = (doc.paths?.['/usage'] as { get?: Record<string, unknown> } | undefined)?.get;
  if (summary && doc.paths) {
    doc.paths['/usage.csv'] = {
      get: {
        ...summary,
        operationId: 'usage-export',
        summary: 'usage.summary as an RFC 4180 CSV download (text/csv)',
        responses: {
          ...(summary.responses as Record<string, unknown>),
          200: {
            description: 'CSV with a header row: group, requests, errors, rejected, cacheHits, …',
            content: { 'text/csv': { schema: { type: 'string' } } },
          },
        },
      },
    } as never;
  }
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    if (extraPaths.has(path)) continue; // their own error shapes
    for (const op of Object.values(item as Record<string, Record<string, unknown>>)) {
      if (!op || typeof op !== 'object' || !('responses' in op)) continue;
      const responses = op.responses as Record<string, { description?: string; content?: unknown }>;
      for (const [status, res] of Object.entries(responses)) {
        if (status === 'default' || Number(status) >= 400) {
          res.content = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };
        }
      }
      if (publicOperations.has(path)) op.security = [];
    }
  }
  return doc;
}
