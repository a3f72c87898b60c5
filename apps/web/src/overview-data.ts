import type { Outputs } from './trpc.ts';

/** One group of `usage.summary`: the server sums the whole range (rollups + raw rows), exactly. */
export type Group = Outputs['usage']['summary']['items'][number];
export type Range = '24h' | '7d' | '30d';
export const RANGES: Record<Range, { label: string; ms: number; bucket: 'hour' | 'day' }> = {
  '24h': { label: 'Last 24 hours', ms: 24 * 3600_000, bucket: 'hour' },
  '7d': { label: 'Last 7 days', ms: 7 * 24 * 3600_000, bucket: 'day' },
  '30d': { label: 'Last 30 days', ms: 30 * 24 * 3600_000, bucket: 'day' },
};

export type Bucket = {
  label: string;
  requests: number;
  errors: number;
  errorRate: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
};

/** Labels a time with its bucket in `timeZone`: "05 Dec, 14:00" by hour, "05 Dec" by day. */
export function bucketLabeller(bucket: 'hour' | 'day', timeZone: string): (t: Date) => string {
  const f = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    day: '2-digit',
    month: 'short',
    ...(bucket === 'hour' ? { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' } : {}),
  });
  // Minutes are cut to the hour (zones with :30 and :45 offsets keep their own hour starts).
  return bucket === 'hour' ? (t) => f.format(t).replace(/:\d\d$/, ':00') : (t) => f.format(t);
}

/** Calls that did not succeed: upstream failures and refusals (budgets, rate limits). */
export const failedOf = (g: Pick<Group, 'errors' | 'rejected'>) => g.errors + g.rejected;

/** The server's group key of a time: "2026-12-05T14:00" by hour, "2026-12-05" by day, in `timeZone`. */
export function groupKeyer(bucket: 'hour' | 'day', timeZone: string): (t: Date) => string {
  const f = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    ...(bucket === 'hour' ? { hour: '2-digit', hourCycle: 'h23' } : {}),
  });
  return (t) => {
    const p = Object.fromEntries(f.formatToParts(t).map((x) => [x.type, x.value]));
    const date = `${p.year}-${p.month}-${p.day}`;
    return bucket === 'hour' ? `${date}T${p.hour}:00` : date;
  };
}

/**
 * Every bucket of the range (empty ones too), oldest first, filled from the server's hour or day
 * groups. The range is walked in 15-minute steps so zones with :30 and :45 offsets get every hour.
 */
export function bucketize(groups: Group[], range: Range, timeZone: string, now: Date): Bucket[] {
  const { ms, bucket } = RANGES[range];
  const keyOf = groupKeyer(bucket, timeZone);
  const labelOf = bucketLabeller(bucket, timeZone);
  const byKey = new Map(groups.map((g) => [g.group, g]));
  const buckets = new Map<string, Bucket>();
  for (let t = now.getTime() - ms; t <= now.getTime(); t += 15 * 60_000) {
    const key = keyOf(new Date(t));
    if (buckets.has(key)) continue;
    const g = byKey.get(key);
    const requests = g?.requests ?? 0;
    const errors = g ? failedOf(g) : 0;
    buckets.set(key, {
      label: labelOf(new Date(t)),
      requests,
      errors,
      errorRate: requests ? Math.round((errors / requests) * 1000) / 10 : 0,
      inputTokens: g?.inputTokens ?? 0,
      outputTokens: g?.outputTokens ?? 0,
      cost: Number(g?.costUsd ?? 0),
    });
  }
  return [...buckets.values()];
}

export type Top = { name: string; requests: number; tokens: number; cost: string };

/** The busiest groups (models, keys) by request count, named by `nameOf`. */
export function top(groups: Group[], nameOf: (group: string) => string, n = 5): Top[] {
  return [...groups]
    .sort((a, b) => b.requests - a.requests)
    .slice(0, n)
    .map((g) => ({
      name: nameOf(g.group),
      requests: g.requests,
      tokens: g.inputTokens + g.outputTokens,
      cost: g.costUsd,
    }));
}
