import { type Deps, publicJwks } from '@tollgate/core';
import type { FastifyInstance } from 'fastify';

/**
 * `/.well-known/jwks.json` (public): the signing key and superseded keys whose tokens may still be
 * live. Also closes the per-process auth runtime (listener, last-used flush) with the server.
 */
export async function identityRoutes(app: FastifyInstance, opts: { deps: Deps }): Promise<void> {
  const { deps } = opts;
  app.get('/.well-known/jwks.json', async (_req, reply) => {
    // Short cache: verifiers pick up a rotation within a minute.
    reply.header('cache-control', 'public, max-age=60');
    return publicJwks(deps);
  });
  app.addHook('onClose', async () => {
    await deps.auth.close();
  });
}
