import cookie from '@fastify/cookie';
import { toTRPCError } from '@tollgate/api';
import { authenticate, type Deps, DomainError, login, logout, refresh } from '@tollgate/core';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

/**
 * The dashboard's session: the same login/refresh/logout services as auth.*, but the refresh token
 * travels only in an httpOnly, SameSite=Strict cookie scoped to this path, so page scripts never
 * see it (an XSS cannot steal it) and no other path ever carries it. The access token is answered
 * in the body and kept in memory by the page. docs/security.md ("The dashboard session") says why
 * this is safe against CSRF: SameSite=Strict, plus an Origin check and a JSON body on every route.
 */
export const SESSION_PATH = '/auth/session';
export const REFRESH_COOKIE = 'tollgate_refresh';
const COOKIE_MAX_AGE_S = 30 * 24 * 3600; // the refresh token's own lifetime

const LoginBody = z.strictObject({
  email: z.string().min(1).max(320),
  password: z.string().min(1).max(1024),
});

type SessionAnswer = { accessToken: string; expiresIn: number };

function sendError(reply: FastifyReply, e: unknown): FastifyReply {
  if (e instanceof DomainError) {
    if (e.retryAfter !== undefined) reply.header('retry-after', String(e.retryAfter));
    return reply
      .code(getHTTPStatusCodeFromError(toTRPCError(e)))
      .send({ error: { code: e.code, message: e.message } });
  }
  throw e;
}

/**
 * CSRF: a browser sends the cookie only on same-site requests (SameSite=Strict), and cross-origin
 * JSON posts need a CORS preflight we never grant. Defence in depth: an Origin header, when sent
 * (browsers always send it on POST), must be this server's own origin.
 */
function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true; // not a browser (curl, tests): no ambient cookie to abuse
  const host = req.headers.host;
  if (!host) return false;
  try {
    return new URL(origin).origin === new URL(`${req.protocol}://${host}`).origin;
  } catch {
    return false;
  }
}

function isJson(req: FastifyRequest): boolean {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim() === 'application/json';
}

export async function webSessionRoutes(app: FastifyInstance, opts: { deps: Deps }): Promise<void> {
  const { deps } = opts;
  await app.register(cookie);

  const setRefreshCookie = (req: FastifyRequest, reply: FastifyReply, token: string) =>
    reply.setCookie(REFRESH_COOKIE, token, {
      path: SESSION_PATH,
      httpOnly: true,
      sameSite: 'strict',
      secure: req.protocol === 'https',
      maxAge: COOKIE_MAX_AGE_S,
    });
  const clearRefreshCookie = (req: FastifyRequest, reply: FastifyReply) =>
    reply.clearCookie(REFRESH_COOKIE, {
      path: SESSION_PATH,
      httpOnly: true,
      sameSite: 'strict',
      secure: req.protocol === 'https',
    });

  app.addHook('preHandler', async (req, reply) => {
    reply.header('cache-control', 'no-store');
    if (!sameOrigin(req)) {
      return reply
        .code(403)
        .send({ error: { code: 'forbidden', message: 'cross-origin request refused' } });
    }
    if (!isJson(req)) {
      return reply
        .code(415)
        .send({ error: { code: 'bad_request', message: 'content-type must be application/json' } });
    }
  });

  app.post(SESSION_PATH, async (req, reply) => {
    const parsed = LoginBody.safeParse(req.body);
    if (!parsed.success) {
      return reply.code(400).send({
        error: { code: 'bad_request', message: 'email and password are required' },
      });
    }
    try {
      const pair = await login(deps, parsed.data, { ip: req.ip });
      setRefreshCookie(req, reply, pair.refreshToken);
      return { accessToken: pair.accessToken, expiresIn: pair.expiresIn } satisfies SessionAnswer;
    } catch (e) {
      return sendError(reply, e);
    }
  });

  app.post(`${SESSION_PATH}/refresh`, async (req, reply) => {
    const token = req.cookies[REFRESH_COOKIE];
    // No cookie is the normal state of a logged-out browser, not an error: 204, nothing to renew.
    if (!token) return reply.code(204).send();
    try {
      const pair = await refresh(deps, { refreshToken: token });
      setRefreshCookie(req, reply, pair.refreshToken);
      return { accessToken: pair.accessToken, expiresIn: pair.expiresIn } satisfies SessionAnswer;
    } catch (e) {
      // A dead session (spent, revoked, expired): the cookie is useless from now on.
      clearRefreshCookie(req, reply);
      return sendError(reply, e);
    }
  });

  // Revokes the cookie's token family when the caller's access token says it is theirs (as
  // auth.logout does); the cookie is cleared in every case.
  app.post(`${SESSION_PATH}/logout`, async (req, reply) => {
    const token = req.cookies[REFRESH_COOKIE];
    const principal = await authenticate(deps, { authorization: req.headers.authorization });
    if (token && principal.kind === 'user') await logout(deps, principal, { refreshToken: token });
    clearRefreshCookie(req, reply);
    return { ok: true };
  });
}
