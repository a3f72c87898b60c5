import { fromUnits, toUnits } from './format.ts';
import type { Outputs } from './trpc.ts';

export type Row = Outputs['requests']['list']['items'][number];
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
  costUnits: bigint;
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

/** Every bucket of the range (empty ones too), oldest first, with the rows' totals. */
export function bucketize(rows: Row[], range: Range, timeZone: string, now: Date): Bucket[] {
  const { ms, bucket } = RANGES[range];
  const keyOf = bucketLabeller(bucket, timeZone);
  const buckets = new Map<string, Bucket>();
  const start = now.getTime() - ms;
  // Step by 15 minutes: time zones with :30 and :45 offsets still get every bucket.
  for (let t = start; t <= now.getTime(); t += 15 * 60_000) {
    const label = keyOf(new Date(t));
    if (!buckets.has(label)) {
      buckets.set(label, {
        label,
        requests: 0,
        errors: 0,
        errorRate: 0,
        inputTokens: 0,
        outputTokens: 0,
        cost: 0,
        costUnits: 0n,
      });
    }
  }
  for (const r of rows) {
    const b = buckets.get(keyOf(new Date(r.createdAt)));
    if (!b) continue;
    b.requests += 1;
    if (r.status !== 'ok') b.errors += 1;
    b.inputTokens += r.inputTokens;
    b.outputTokens += r.outputTokens;
    b.costUnits += toUnits(r.costUsd);
  }
  for (const b of buckets.values()) {
    b.errorRate = b.requests ? Math.round((b.errors / b.requests) * 1000) / 10 : 0;
    b.cost = Number(fromUnits(b.costUnits));
  }
  return [...buckets.values()];
}

export type Top = { name: string; requests: number; tokens: number; cost: string };

/** The busiest values of `by` (model, key), by request count. */
export function top(rows: Row[], by: (r: Row) => string, n = 5): Top[] {
  const m = new Map<string, { requests: number; tokens: number; cost: bigint }>();
  for (const r of rows) {
    const k = by(r);
    const e = m.get(k) ?? { requests: 0, tokens: 0, cost: 0n };
    e.requests += 1;
    e.tokens += r.inputTokens + r.outputTokens;
    e.cost += toUnits(r.costUsd);
    m.set(k, e);
  }
  return [...m.entries()]
    .sort((a, b) => b[1].requests - a[1].requests)
    .slice(0, n)
    .map(([name, e]) => ({
      name,
      requests: e.requests,
      tokens: e.tokens,
      cost: fromUnits(e.cost),
    }));
}
