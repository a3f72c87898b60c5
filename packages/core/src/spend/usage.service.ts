import { Readable } from 'node:stream';
import type { DB } from '@tollgate/db';
import { stringify } from 'csv-stringify';
import { type Kysely, sql } from 'kysely';
import { hasScope, type UserPrincipal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';
import { managedKeyIds } from '../teams/team-access.ts';

export type UsageGroupBy = 'hour' | 'day' | 'model' | 'key' | 'user' | 'team';

export type UsageQuery = {
  /** ISO date-time, or a date (local midnight in `tz`); inclusive. */
  from: string;
  /** ISO date-time (exclusive), or a date (the whole day is included). */
  to: string;
  groupBy: UsageGroupBy;
  /** IANA time zone for `hour` and `day` groups and date-only bounds; default UTC. */
  tz?: string | undefined;
};

export type UsageTotals = {
  requests: number;
  errors: number;
  rejected: number;
  cacheHits: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  /** Exact decimal string; unpriced calls count 0 here and in `unpricedRequests`. */
  costUsd: string;
  unpricedRequests: number;
};

export type UsageGroup = UsageTotals & {
  /**
   * The hour (YYYY-MM-DDTHH:00 in tz), day (YYYY-MM-DD in tz), model name, key id ('' for access-token calls), user id or team
   * id ('' for calls outside any team).
   */
  group: string;
};

export type UsageSummary = {
  from: string;
  to: string;
  groupBy: UsageGroupBy;
  tz: string;
  items: UsageGroup[];
  totals: UsageTotals;
};

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** Checks an IANA zone name with the runtime's own database (Intl), before Postgres sees it. */
function zoneOf(tz: string | undefined): string {
  const zone = tz ?? 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new DomainError('bad_request', `unknown time zone '${zone}'`, { param: 'tz' });
  }
  return zone;
}

const seesAll = (p: UserPrincipal) => p.role === 'admin' && hasScope(p, 'admin');

type Bounds = { from: Date; to: Date };

/** Date-only bounds are local midnights in tz (Postgres does the zone arithmetic). */
async function bounds(db: Kysely<DB>, q: UsageQuery, tz: string): Promise<Bounds> {
  const parse = (v: string, param: string) => {
    if (DATE_ONLY.test(v)) return { date: v };
    const d = new Date(v);
    if (Number.isNaN(d.getTime()) || !/T/.test(v)) {
      throw new DomainError('bad_request', `${param} must be a date or an ISO date-time`, {
        param,
      });
    }
    return { at: d };
  };
  const f = parse(q.from, 'from');
  const t = parse(q.to, 'to');
  const r = await sql<{ from: Date; to: Date }>`
    select
      coalesce(${f.at ?? null}::timestamptz, (${f.date ?? null}::date)::timestamp at time zone ${tz}) as from,
      coalesce(${t.at ?? null}::timestamptz,
        ((${t.date ?? null}::date + 1)::timestamp) at time zone ${tz}) as to`.execute(db);
  const row = r.rows[0] as { from: Date; to: Date };
  if (row.to <= row.from) {
    throw new DomainError('bad_request', '`to` must be after `from`', { param: 'to' });
  }
  if (row.to.getTime() - row.from.getTime() > 400 * 86_400_000) {
    throw new DomainError('bad_request', 'a summary covers at most 400 days', { param: 'to' });
  }
  return row;
}

type Row = {
  group: string;
  requests: string;
  errors: string;
  rejected: string;
  cache_hits: string;
  input_tokens: string;
  cached_input_tokens: string;
  output_tokens: string;
  reasoning_tokens: string;
  cost_usd: string;
  unpriced: string;
};

function groupExpr(groupBy: UsageGroupBy, tz: string) {
  switch (groupBy) {
    case 'hour':
      return sql<string>`to_char(src.t at time zone ${tz}, 'YYYY-MM-DD"T"HH24:00')`;
    case 'day':
      return sql<string>`to_char(src.t at time zone ${tz}, 'YYYY-MM-DD')`;
    case 'model':
      return sql<string>`src.model`;
    case 'key':
      return sql<string>`coalesce(src.key_id::text, '')`;
    case 'user':
      return sql<string>`src.user_id::text`;
    case 'team':
      // A key's team is fixed at creation: its calls are the team's ('' = no team).
      return sql<string>`coalesce((select k.team_id::text from api_keys k where k.id = src.key_id), '')`;
  }
}

/** A numeric's text without trailing zeros: "0.0000105", "5". */
function decimal(v: string): string {
  if (!v.includes('.')) return v;
  const t = v.replace(/0+$/, '').replace(/\.$/, '');
  return t === '' ? '0' : t;
}

function totalsOf(r: Omit<Row, 'group'>): UsageTotals {
  return {
    requests: Number(r.requests),
    errors: Number(r.errors),
    rejected: Number(r.rejected),
    cacheHits: Number(r.cache_hits),
    inputTokens: Number(r.input_tokens),
    cachedInputTokens: Number(r.cached_input_tokens),
    outputTokens: Number(r.output_tokens),
    reasoningTokens: Number(r.reasoning_tokens),
    costUsd: decimal(r.cost_usd),
    unpricedRequests: Number(r.unpriced),
  };
}

/**
 * Usage over a range grouped by hour or day (in tz), model, key, user or team: whole UTC hours
 * before the rollup watermark come from usage_hourly, everything else from the request log
 * itself, so the totals are exact at any moment. A local hour repeated when DST ends is one group. Members see their own calls (managers also their teams' keys'
 * calls, teams #18), admins everyone's.
 */
export async function usageSummary(
  deps: Pick<Deps, 'db'>,
  p: UserPrincipal,
  q: UsageQuery,
): Promise<UsageSummary> {
  const tz = zoneOf(q.tz);
  const { from, to } = await bounds(deps.db, q, tz);
  const userId = seesAll(p) ? null : p.userId;
  const group = groupExpr(q.groupBy, tz);
  // Rolled-up hours usable here: whole hours inside [from, to) before the watermark. A local day
  // or hour in a zone whose offset is not whole hours cuts through a UTC hour: then only raw rows
  // are exact.
  const r = await sql<Row>`
    with f as (
      select date_trunc('hour', ${from}::timestamptz at time zone 'UTC') at time zone 'UTC' as fl
    ), w as (
      select
        f.fl + case when f.fl = ${from}::timestamptz then interval '0' else interval '1 hour' end
          as rs,
        least(date_trunc('hour', ${to}::timestamptz at time zone 'UTC') at time zone 'UTC',
          coalesce((select watermark from usage_rollup_state), '-infinity'::timestamptz)) as re0
      from f
    ), span as (
      select w.rs,
        case when w.re0 > w.rs and (${q.groupBy} not in ('hour', 'day') or not exists (
            select 1 from generate_series(w.rs, w.re0, interval '1 hour') g
             where extract(minute from g at time zone ${tz}) <> 0))
          then w.re0 else w.rs end as re
      from w
    ), src as (
      select h.hour as t, h.user_id, h.key_id, h.model, h.requests, h.errors, h.rejected,
        h.cache_hits, h.input_tokens, h.cached_input_tokens, h.output_tokens, h.reasoning_tokens,
        h.cost_usd, h.unpriced
      from usage_hourly h, span
      where h.hour >= span.rs and h.hour < span.re
        and (${userId}::uuid is null or h.user_id = ${userId}::uuid
             or h.key_id in ${managedKeyIds(p.userId)})
      union all
      select l.created_at, l.user_id, l.key_id, l.model, 1, (l.status = 'error')::int,
        (l.status = 'rejected')::int, l.cache_hit::int, l.input_tokens, l.cached_input_tokens,
        l.output_tokens, l.reasoning_tokens, coalesce(l.cost_usd, 0),
        (l.cost_usd is null)::int
      from request_logs l, span
      where l.created_at >= ${from}::timestamptz and l.created_at < ${to}::timestamptz
        and not (l.created_at >= span.rs and l.created_at < span.re)
        and (${userId}::uuid is null or l.user_id = ${userId}::uuid
             or l.key_id in ${managedKeyIds(p.userId)})
    )
    select ${group} as group,
      sum(requests)::text as requests, sum(errors)::text as errors,
      sum(rejected)::text as rejected, sum(cache_hits)::text as cache_hits,
      sum(input_tokens)::text as input_tokens, sum(cached_input_tokens)::text as cached_input_tokens,
      sum(output_tokens)::text as output_tokens, sum(reasoning_tokens)::text as reasoning_tokens,
      sum(cost_usd)::text as cost_usd, sum(unpriced)::text as unpriced
    from src
    group by 1
    order by 1`.execute(deps.db);
  const items = r.rows.map((row) => ({ group: row.group, ...totalsOf(row) }));
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    groupBy: q.groupBy,
    tz,
    items,
    totals: sumTotals(items),
  };
}

function sumTotals(items: UsageGroup[]): UsageTotals {
  const t: UsageTotals = {
    requests: 0,
    errors: 0,
    rejected: 0,
    cacheHits: 0,
    inputTokens: 0,
    cachedInputTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
    costUsd: '0',
    unpricedRequests: 0,
  };
  // Cost is summed as scaled integers (10 decimal places, as stored): exact, never a float sum.
  let cost = 0n;
  for (const i of items) {
    t.requests += i.requests;
    t.errors += i.errors;
    t.rejected += i.rejected;
    t.cacheHits += i.cacheHits;
    t.inputTokens += i.inputTokens;
    t.cachedInputTokens += i.cachedInputTokens;
    t.outputTokens += i.outputTokens;
    t.reasoningTokens += i.reasoningTokens;
    t.unpricedRequests += i.unpricedRequests;
    cost += scaled(i.costUsd);
  }
  t.costUsd = unscaled(cost);
  return t;
}

const SCALE = 10;
function scaled(v: string): bigint {
  const [whole = '0', frac = ''] = v.split('.');
  return BigInt(whole + frac.padEnd(SCALE, '0').slice(0, SCALE));
}
function unscaled(v: bigint): string {
  const s = v.toString().padStart(SCALE + 1, '0');
  return decimal(`${s.slice(0, -SCALE)}.${s.slice(-SCALE)}`);
}

/** The CSV columns of usage.export, in order. */
export const usageCsvColumns = [
  'group',
  'requests',
  'errors',
  'rejected',
  'cacheHits',
  'inputTokens',
  'cachedInputTokens',
  'outputTokens',
  'reasoningTokens',
  'costUsd',
  'unpricedRequests',
] as const;

/** The summary as RFC 4180 CSV (CRLF line ends, quoted where needed), streamed by csv-stringify. */
export function usageCsv(summary: UsageSummary): Readable {
  const out = stringify({
    header: true,
    columns: [...usageCsvColumns],
    record_delimiter: 'windows',
  });
  Readable.from(summary.items).pipe(out);
  return out;
}

/**
 * How far behind now the rollup stays: a row is written when its call ends but dated when it
 * started, so an hour is rolled up only once no call that started in it can still be running
 * (the whole-call limit) plus the writers' flush delay.
 */
export function usageRollupLagMs(config: { upstreamTimeoutMs: number }): number {
  return Math.max(config.upstreamTimeoutMs, 10 * 60_000) + 5 * 60_000;
}

/** Rolls whole UTC hours of the request log into usage_hourly, up to `lagMs` before now. */
export async function rollupUsage(
  deps: Pick<Deps, 'db' | 'clock'>,
  opts: { lagMs: number },
): Promise<{ hours: number; watermark: Date | null }> {
  const until = new Date(deps.clock.now().getTime() - opts.lagMs);
  return deps.db.transaction().execute(async (trx) => {
    // One roller at a time (the row lock); the first run starts at the oldest row.
    await sql`insert into usage_rollup_state (id, watermark)
      select true, coalesce(date_trunc('hour', min(created_at) at time zone 'UTC') at time zone 'UTC',
                            date_trunc('hour', ${until}::timestamptz at time zone 'UTC') at time zone 'UTC')
        from request_logs
      on conflict (id) do nothing`.execute(trx);
    const state = await sql<{ watermark: Date; next: Date }>`
      select watermark,
        date_trunc('hour', ${until}::timestamptz at time zone 'UTC') at time zone 'UTC' as next
      from usage_rollup_state where id for update`.execute(trx);
    const s = state.rows[0];
    if (!s || s.next <= s.watermark) return { hours: 0, watermark: s?.watermark ?? null };
    await sql`
      insert into usage_hourly (hour, user_id, key_id, model, requests, errors, rejected,
        cache_hits, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, cost_usd,
        unpriced)
      select date_trunc('hour', created_at at time zone 'UTC') at time zone 'UTC', user_id, key_id,
        model, count(*), count(*) filter (where status = 'error'),
        count(*) filter (where status = 'rejected'), count(*) filter (where cache_hit),
        sum(input_tokens), sum(cached_input_tokens), sum(output_tokens), sum(reasoning_tokens),
        coalesce(sum(cost_usd), 0), count(*) filter (where cost_usd is null)
      from request_logs
      where created_at >= ${s.watermark} and created_at < ${s.next}
      group by 1, 2, 3, 4
      on conflict (hour, user_id, coalesce(key_id, '00000000-0000-0000-0000-000000000000'::uuid), model)
      do update set requests = usage_hourly.requests + excluded.requests,
        errors = usage_hourly.errors + excluded.errors,
        rejected = usage_hourly.rejected + excluded.rejected,
        cache_hits = usage_hourly.cache_hits + excluded.cache_hits,
        input_tokens = usage_hourly.input_tokens + excluded.input_tokens,
        cached_input_tokens = usage_hourly.cached_input_tokens + excluded.cached_input_tokens,
        output_tokens = usage_hourly.output_tokens + excluded.output_tokens,
        reasoning_tokens = usage_hourly.reasoning_tokens + excluded.reasoning_tokens,
        cost_usd = usage_hourly.cost_usd + excluded.cost_usd,
        unpriced = usage_hourly.unpriced + excluded.unpriced`.execute(trx);
    await sql`update usage_rollup_state set watermark = ${s.next} where id`.execute(trx);
    return {
      hours: Math.round((s.next.getTime() - s.watermark.getTime()) / 3_600_000),
      watermark: s.next,
    };
  });
}

/** Drops what the limiter and the cache no longer need: old windows, dead leases, stale entries. */
export async function purgeSpendState(deps: Pick<Deps, 'db' | 'clock'>): Promise<{
  windows: number;
  leases: number;
  cacheEntries: number;
}> {
  const now = deps.clock.now();
  const windows = await sql`delete from limit_windows
    where window_start < ${now}::timestamptz - interval '40 days'
       or (period = 'minute' and window_start < ${now}::timestamptz - interval '1 hour')
       or (period = 'day' and window_start < ${now}::timestamptz - interval '2 days')`.execute(
    deps.db,
  );
  const leases = await sql`delete from limit_leases
    where expires_at < ${now}::timestamptz - interval '1 hour'`.execute(deps.db);
  const cache = await sql`delete from response_cache where expires_at <= ${now}`.execute(deps.db);
  return {
    windows: Number(windows.numAffectedRows ?? 0),
    leases: Number(leases.numAffectedRows ?? 0),
    cacheEntries: Number(cache.numAffectedRows ?? 0),
  };
}
