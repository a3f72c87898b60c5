declare module 'fastify' {
  interface FastifyRequest {
    principalUserId?: string;
    principalKeyId?: string | null;
  }
}

/** Lets the request log line name who called, without ever logging the credential. */
export function rememberPrincipal(
  req: { principalUserId?: string; principalKeyId?: string | null },
  p: { kind: string; userId?: string; keyId?: string | null },
): void {
  if (p.kind === 'user') {
    req.principalUserId = p.userId;
    req.principalKeyId = p.keyId ?? null;
  }
}
