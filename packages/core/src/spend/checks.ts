import type { UserPrincipal } from '../auth/principal.ts';
import type { LimitCheck } from './limiter.ts';

/**
 * The limits one gateway call is checked against: the budgets (day and month, UTC) of its user
 * and of its key, and the key's RPM and TPM. `usd` is the call's worst-case cost (null when the
 * model is unpriced), `tokens` its worst-case tokens. Teams (#18) and provider connections (#16)
 * add their subjects here.
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
  return checks;
}
