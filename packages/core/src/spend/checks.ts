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
  const user = { kind: 'user', id: p.userId } as const;
  const checks: LimitCheck[] = [
    { subject: user, metric: 'usd', period: 'day', cap: 'budget', amount: usd },
    { subject: user, metric: 'usd', period: 'month', cap: 'budget', amount: usd },
  ];
  if (p.keyId !== null) {
    const key = { kind: 'key', id: p.keyId } as const;
    checks.push(
      { subject: key, metric: 'usd', period: 'day', cap: 'budget', amount: usd },
      { subject: key, metric: 'usd', period: 'month', cap: 'budget', amount: usd },
    );
    const limits = p.key;
    if (limits?.rpmLimit != null) {
      checks.push({
        subject: key,
        metric: 'requests',
        period: 'minute',
        cap: limits.rpmLimit,
        amount: 1,
      });
    }
    if (limits?.tpmLimit != null) {
      checks.push({
        subject: key,
        metric: 'tokens',
        period: 'minute',
        cap: limits.tpmLimit,
        amount: tokens,
      });
    }
  }
  // Teams (#18): the team's budgets and limits apply to every call of its keys, together.
  for (const id of teamOf(p)) {
    const team = { kind: 'team', id } as const;
    checks.push(
      { subject: team, metric: 'usd', period: 'day', cap: 'budget', amount: usd },
      { subject: team, metric: 'usd', period: 'month', cap: 'budget', amount: usd },
    );
    const limits = p.teamLimits;
    if (limits?.rpmLimit != null) {
      checks.push({
        subject: team,
        metric: 'requests',
        period: 'minute',
        cap: limits.rpmLimit,
        amount: 1,
      });
    }
    if (limits?.tpmLimit != null) {
      checks.push({
        subject: team,
        metric: 'tokens',
        period: 'minute',
        cap: limits.tpmLimit,
        amount: tokens,
      });
    }
  }
  return checks;
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
  const subject = { kind: 'connection', id: c.id } as const;
  const checks: LimitCheck[] = [];
  if (c.rpmLimit !== null) {
    checks.push({ subject, metric: 'requests', period: 'minute', cap: c.rpmLimit, amount: 1 });
  }
  if (c.tpmLimit !== null) {
    checks.push({ subject, metric: 'tokens', period: 'minute', cap: c.tpmLimit, amount: tokens });
  }
  return checks;
}
