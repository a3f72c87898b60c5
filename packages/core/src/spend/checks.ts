import type { UserPrincipal } from '../auth/principal.ts';
import { teamOf } from '../teams/team-access.ts';
import type { LimitCheck } from './limiter.ts';

/**
 * The limits one gateway call is checked against: the budgets (day and month, UTC) of its user
 * and of its key, and the key's RPM and TPM. `usd` is the call's worst-case cost (null when the
 * model is unpriced), `tokens` its worst-case tokens; a team key's call also counts against its
 * team's budgets and RPM/TPM. A provider connection's quota is checked per attempt on it
 * (connectionLimitChecks).
 */
export function callLimitChecks(
  p: UserPrincipal,
  usd: number | null,
  tokens: number,
): LimitCheck[] {
  const checks: LimitCheck[] = [];
  budgetChecks(checks, { kind: 'user', id: p.userId }, usd);
  if (p.keyId !== null) {
    const key = { kind: 'key', id: p.keyId } as const;
    budgetChecks(checks, key, usd);
    rateChecks(checks, key, p.key, tokens);
  }
  // Teams (#18): the team's budgets and limits apply to every call of its keys, together.
  for (const id of teamOf(p)) {
    const team = { kind: 'team', id } as const;
    budgetChecks(checks, team, usd);
    rateChecks(checks, team, p.teamLimits, tokens);
  }
  return checks;
}

type Subject = LimitCheck['subject'];
type RateLimits = { rpmLimit?: number | null; tpmLimit?: number | null } | null | undefined;

/** A subject's day and month budgets (UTC), each charged the call's worst-case cost. */
function budgetChecks(into: LimitCheck[], subject: Subject, usd: number | null): void {
  into.push(
    { subject, metric: 'usd', period: 'day', cap: 'budget', amount: usd },
    { subject, metric: 'usd', period: 'month', cap: 'budget', amount: usd },
  );
}

/** A subject's RPM (1 request) and TPM (the call's worst-case tokens) per UTC minute, when set. */
function rateChecks(
  into: LimitCheck[],
  subject: Subject,
  limits: RateLimits,
  tokens: number,
): void {
  if (limits?.rpmLimit != null) {
    into.push({ subject, metric: 'requests', period: 'minute', cap: limits.rpmLimit, amount: 1 });
  }
  if (limits?.tpmLimit != null) {
    into.push({
      subject,
      metric: 'tokens',
      period: 'minute',
      cap: limits.tpmLimit,
      amount: tokens,
    });
  }
}

/** What connectionLimitChecks needs of a connection (LiveConnection has it). */
export type QuotaConnection = {
  id: string | null;
  rpmLimit: number | null;
  tpmLimit: number | null;
};

const none: LimitCheck[] = [];

/**
 * The quota of one attempt on a provider connection (#16): its RPM (1 request) and its TPM (the
 * call's worst-case tokens), per UTC minute, shared across processes like a key's. Empty (no
 * limiter call at all) for a connection without a quota, and for the built-in connections.
 */
export function connectionLimitChecks(c: QuotaConnection, tokens: number): readonly LimitCheck[] {
  if (c.id === null || (c.rpmLimit === null && c.tpmLimit === null)) return none;
  const checks: LimitCheck[] = [];
  rateChecks(checks, { kind: 'connection', id: c.id }, c, tokens);
  return checks;
}
