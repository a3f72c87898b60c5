import { randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import type { Deps } from '../deps.ts';
import {
  ACCESS_TOKEN_TTL_SECONDS,
  activeSigningKey,
  JWT_ALG,
  verificationKey,
} from './signing-keys.ts';

export const JWT_ISSUER = 'tollgate';
export const JWT_AUDIENCE = 'tollgate-api';
/** RFC 9068 access-token media type, in the header; `token_use` repeats it in the claims. */
export const JWT_TYP = 'at+jwt';

/** A signed 15-minute access JWT for a user. */
export async function signAccessToken(
  deps: Deps,
  user: { id: string; role: 'admin' | 'member'; token_generation: number },
): Promise<string> {
  const { kid, privateKey } = await activeSigningKey(deps);
  const now = Math.floor(deps.clock.now().getTime() / 1000);
  return new SignJWT({ role: user.role, token_use: 'access', gen: user.token_generation })
    .setProtectedHeader({ alg: JWT_ALG, kid, typ: JWT_TYP })
    .setIssuer(JWT_ISSUER)
    .setAudience(JWT_AUDIENCE)
    .setSubject(user.id)
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + ACCESS_TOKEN_TTL_SECONDS)
    .sign(privateKey);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type VerifiedAccess = { userId: string; generation: number };

/**
 * Verifies an access JWT: algorithm, issuer, audience and type pinned; the key comes only from our
 * own key set by `kid` (headers such as jku, jwk, x5u are never followed); unknown kids refused.
 */
export async function verifyAccessToken(
  deps: Deps,
  token: string,
): Promise<VerifiedAccess | 'token_expired' | 'token_invalid'> {
  // A JWS compact string is three base64url parts; anything else is refused before parsing.
  if (token.length > 4096 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
    return 'token_invalid';
  }
  let lookupFailure: unknown;
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        let key: Awaited<ReturnType<typeof verificationKey>>;
        try {
          key =
            typeof header.kid === 'string' ? await verificationKey(deps, header.kid) : undefined;
        } catch (e) {
          lookupFailure = e;
          throw e;
        }
        if (!key) throw new errors.JWKSNoMatchingKey();
        return key;
      },
      {
        algorithms: [JWT_ALG],
        issuer: JWT_ISSUER,
        audience: JWT_AUDIENCE,
        typ: JWT_TYP,
        currentDate: deps.clock.now(),
        requiredClaims: ['iss', 'aud', 'sub', 'iat', 'exp', 'jti'],
        clockTolerance: 5,
      },
    );
    if (
      payload.token_use !== 'access' ||
      typeof payload.sub !== 'string' ||
      !UUID.test(payload.sub) ||
      typeof payload.gen !== 'number'
    )
      return 'token_invalid';
    return { userId: payload.sub, generation: payload.gen };
  } catch (e) {
    // A database failure while finding the key is ours (5xx); anything about the token is a 401.
    if (lookupFailure !== undefined) throw lookupFailure;
    if (e instanceof errors.JWTExpired) return 'token_expired';
    return 'token_invalid';
  }
}
