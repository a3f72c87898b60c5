import { z } from 'zod';

// Lengths are bounded so an attacker cannot make us hash megabytes; formats are not checked here
// so that every login attempt, well-formed or not, gets the same answer.
export const LoginInput = z.object({
  email: z.string().min(1).max(320),
  password: z.string().min(1).max(1024),
});

export const TokenPair = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  /** Seconds until the access token expires. */
  expiresIn: z.number().int(),
});

export const RefreshInput = z.object({ refreshToken: z.string().min(1).max(256) });

export const LogoutOutput = z.object({ ok: z.literal(true) });

export const Me = z.object({
  id: z.uuid(),
  email: z.string(),
  role: z.enum(['admin', 'member']),
});

export const RotatedKey = z.object({ kid: z.string() });
