export type { ApiDeps, Context, ReqHeaders } from './context.ts';
export { createContextInner, makeCreateContext } from './context.ts';
export { domainCause, toTRPCError, trpcCodeByDomainCode } from './errors.ts';
export type { ExtraOpenApi } from './openapi.ts';
export { createOpenApiDocument } from './openapi.ts';
export type { AppRouter } from './root.ts';
export { appRouter, createCaller } from './root.ts';
export { BatchCreateInput, parseBatchJsonl } from './routers/batches.schemas.ts';
