import { appRouter, type Context, createOpenApiDocument } from '@tollgate/api';
import type { Deps } from '@tollgate/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { fastifyTRPCOpenApiPlugin } from 'trpc-to-openapi';
import { batchRoutes } from './batch-routes.ts';
import {
  ANTHROPIC_TAG,
  compatOpenApiPaths,
  compatSecuritySchemes,
  OPENAI_TAG,
} from './compat/compat.openapi.ts';
import { lazyDocsRoutes } from './lazy-docs.ts';
import { rememberPrincipal } from './request-principal.ts';
import { trpcResponseMeta } from './response-meta.ts';

type Options = {
  deps: Deps;
  createContext: (opts: { req: FastifyRequest }) => Promise<Context>;
};

type FlatError = {
  code?: string;
  message?: string;
  issues?: unknown;
  data?: { reason?: string | null };
};

/** trpc-to-openapi's flat error body → PRODUCT's `{ error: { code, message, issues } }`. */
export function wrapRestError(payload: string): string {
  let body: FlatError;
  try {
    body = JSON.parse(payload) as FlatError;
  } catch {
    return payload;
  }
  const code = body.data?.reason ?? body.code?.toLowerCase() ?? 'error';
  return JSON.stringify({
    error: {
      code,
      message: body.message ?? 'error',
      ...(body.issues ? { issues: body.issues } : {}),
    },
  });
}

/** /api (REST bridge), /openapi.json and /docs. */
export async function restBridge(app: FastifyInstance, opts: Options): Promise<void> {
  await app.register(async (api) => {
    api.addHook('onSend', async (_req, reply, payload) => {
      if (reply.statusCode >= 400 && typeof payload === 'string') return wrapRestError(payload);
      return payload;
    });
    // Fastify's own 4xx (bad JSON, body too large) in the same shape as the bridge's.
    api.setErrorHandler(
      (err: { statusCode?: number; code?: string; message: string }, _req, reply) => {
        const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
        const code =
          status === 413
            ? 'payload_too_large'
            : status === 500
              ? 'internal_server_error'
              : 'bad_request';
        return reply.code(status).send({
          code: code.toUpperCase(),
          message: status === 500 ? 'internal error' : err.message,
          data: { reason: code },
        });
      },
    );
    // Upload (JSONL, 200 MiB) and streamed results: routes of their own, before the wildcard.
    await batchRoutes(api, { createContext: opts.createContext });
    await api.register(fastifyTRPCOpenApiPlugin, {
      basePath: '/api',
      router: appRouter,
      createContext: async ({ req }: { req: FastifyRequest }) => {
        const ctx = await opts.createContext({ req });
        rememberPrincipal(req, ctx.principal);
        // Same procedures as /trpc; the request log tells the two surfaces apart.
        return { ...ctx, surface: 'rest' as const };
      },
      responseMeta: trpcResponseMeta,
    } as never);
  });

  // Built on first request: generating it walks every procedure's zod schemas (cold route).
  let document: ReturnType<typeof createOpenApiDocument> | undefined;
  app.get('/openapi.json', async () => {
    document ??= createOpenApiDocument('/api', '0.1.0', {
      paths: compatOpenApiPaths(),
      securitySchemes: compatSecuritySchemes,
      tags: [
        {
          name: OPENAI_TAG,
          description:
            "OpenAI's wire format at /v1 (official openai SDKs); errors in OpenAI's shape",
        },
        {
          name: ANTHROPIC_TAG,
          description:
            "Anthropic's wire format at /v1/messages (official @anthropic-ai/sdk); errors in Anthropic's shape",
        },
      ],
    });
    return document;
  });
  lazyDocsRoutes(app, { url: '/openapi.json', title: 'Tollgate API' });
}
