import { randomUUID } from 'node:crypto';
import type { DB } from '@tollgate/db';
import type { Logger } from '@tollgate/telemetry';
import { type Kysely, sql } from 'kysely';
import type { Clock } from '../deps.ts';
import { DomainError } from '../errors.ts';

/**
 * The shared limiter (docs/spend.md): budgets, RPM and TPM, and whatever else caps an amount per
 * window, enforced across every process and instance on one database.
 *
 * Each process leases allowance from Postgres in chunks (limit_leases) and spends it locally:
 * a call that fits in what the process holds is admitted with no database round trip; one that
 * does not waits for one exchange (tollgate_limit_sync) that flushes what was consumed, renews the
 * leases and asks for more, coalesced with every other call waiting at that moment. The database
 * grants only while `used + every live lease ≤ cap`, so the admitted worst cases never exceed a
 * cap; a lease of a process that stops renewing (crash, SIGKILL) expires after `leaseTtlMs`.
 */

export type LimitSubjectKind = 'key' | 'user' | 'team' | 'connection';
export type LimitSubject = { kind: LimitSubjectKind; id: string };
export type LimitMetric = 'usd' | 'requests' | 'tokens';
export type LimitPeriod = 'minute' | 'day' | 'month';

/** One limit that applies to a call. */
export type LimitCheck = {
  subject: LimitSubject;
  metric: LimitMetric;
  period: LimitPeriod;
  /** The cap per window; 'budget': the budgets row of (subject, period), if any (usd only). */
  cap: number | 'budget';
  /** The call's worst case; null = it cannot be priced (refused when a cap applies). */
  amount: number | null;
};

/** What a call used, per metric; a metric left out settles at 0. */
export type LimitUsage = Partial<Record<LimitMetric, number>>;

export type Admission = {
  /** Settles every reservation at what the call used and releases the rest; once only. */
  settle: (used: LimitUsage) => void;
  /** True when a USD cap (budget) applied to this call. */
  readonly budgeted: boolean;
  /** OpenAI-style x-ratelimit-* headers for the call's request and token limits (may be empty). */
  rateLimitHeaders: () => Record<string, string>;
};

export type Limiter = {
  /** Reserves every check's amount or refuses (DomainError budget_exceeded/rate_limit_exceeded). */
  admit: (checks: readonly LimitCheck[]) => Promise<Admission>;
  /** Sends what was consumed and renews the leases now (tests, shutdown). */
  flush: () => Promise<void>;
  /** Flushes and gives every lease back; later admissions pass unchecked. */
  close: () => Promise<void>;
  /** This process's lease holder id. */
  readonly holder: string;
};

export type LimiterOptions = {
  db: Kysely<DB>;
  log: Logger;
  clock: Clock;
  /** How long a lease outlives its holder's last renewal. */
  leaseTtlMs?: number;
  /** How often consumption is flushed and leases renewed. */
  tickMs?: number;
  /**
   * A reservation never settled within this long is released (a stream whose consumer never
   * started reading it cannot run its own cleanup); default 11 minutes, past the longest call.
   */
  maxHoldMs?: number;
};

/** Default lease lifetime: a SIGKILLed process's allowance comes back within this. */
export const LEASE_TTL_MS = 10_000;
const TICK_MS = 1_000;
/** A bucket unused this long gives its unspent lease back. */
const IDLE_RELEASE_MS = 2_000;
/** How long "no budget here" is believed before it is asked again. */
const NO_CAP_RECHECK_MS = 5_000;
/** A process asks for 1/16 of a cap at a time (at least what the call needs). */
const CHUNK_DIVISOR = 16;

type Bucket = {
  key: string;
  subject: string;
  metric: LimitMetric;
  period: LimitPeriod;
  windowStart: Date;
  windowEndMs: number;
  /** undefined: never asked; null: no cap (usd without a budget). */
  cap: number | null | undefined;
  capCheckedAt: number;
  leased: number;
  consumed: number;
  sending: number;
  reserved: number;
  /** From the last exchange: the window's flushed use and other holders' live leases. */
  used: number;
  others: number;
  /** Pending asks for the next exchange. */
  need: number;
  want: number;
  shrinking: boolean;
  lastActiveMs: number;
};

const available = (b: Bucket) => (b.shrinking ? 0 : b.leased - b.consumed - b.sending - b.reserved);

function windowOf(period: LimitPeriod, nowMs: number): { start: number; end: number } {
  if (period === 'minute') {
    const start = nowMs - (nowMs % 60_000);
    return { start, end: start + 60_000 };
  }
  if (period === 'day') {
    const start = nowMs - (nowMs % 86_400_000);
    return { start, end: start + 86_400_000 };
  }
  const d = new Date(nowMs);
  return {
    start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
    end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
  };
}

const subjectText = (s: LimitSubject) => `${s.kind}:${s.id}`;

/** A duration as OpenAI writes it in x-ratelimit-reset-*: `1m30s`, `12s`, `250ms`. */
export function formatReset(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60}s`;
  return `${Math.floor(m / 60)}h${m % 60}m${s % 60}s`;
}

function chunkOf(b: Bucket, need: number): number {
  if (b.cap === null || b.cap === undefined) return need * 4;
  const part = b.cap / CHUNK_DIVISOR;
  return b.metric === 'requests' ? Math.max(need, Math.floor(part), 1) : Math.max(need, part);
}

type SyncRow = {
  subject: string;
  metric: string;
  period: string;
  window_start: Date;
  cap: string | null;
  used: string;
  others: string;
  leased: string;
  granted: string;
};

const noHeaders = () => ({});
const passAll: Admission = { settle: () => {}, budgeted: false, rateLimitHeaders: noHeaders };

function refusal(b: Bucket, nowMs: number): DomainError {
  const retryAfter = Math.max(1, Math.ceil((b.windowEndMs - nowMs) / 1000));
  const resetsAt = new Date(b.windowEndMs).toISOString();
  const [kind] = b.subject.split(':');
  if (b.metric === 'usd') {
    return new DomainError(
      'budget_exceeded',
      `the ${kind} ${b.period === 'day' ? 'daily' : 'monthly'} budget of $${b.cap} is spent; it resets at ${resetsAt}`,
      { retryAfter },
    );
  }
  const what = b.metric === 'requests' ? 'requests' : 'tokens';
  return new DomainError(
    'rate_limit_exceeded',
    `the ${kind}'s limit of ${b.cap} ${what} per minute is reached; retry after ${retryAfter}s`,
    { retryAfter },
  );
}

/** Creates this process's limiter (one per process: it owns one lease holder id). */
export function createLimiter(opts: LimiterOptions): Limiter {
  const { db, log, clock } = opts;
  const ttlMs = opts.leaseTtlMs ?? LEASE_TTL_MS;
  const holder = randomUUID();
  const buckets = new Map<string, Bucket>();
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;
  let lastExchangeMs = 0;
  let closed = false;
  const maxHoldMs = opts.maxHoldMs ?? 11 * 60_000;
  /** Unsettled admissions by when they were made, for the safety net in the tick. */
  const open = new Map<Admission, number>();

  function bucketFor(c: LimitCheck, nowMs: number): Bucket {
    const subject = subjectText(c.subject);
    const w = windowOf(c.period, nowMs);
    const key = `${subject}|${c.metric}|${c.period}|${w.start}`;
    let b = buckets.get(key);
    if (b === undefined) {
      b = {
        key,
        subject,
        metric: c.metric,
        period: c.period,
        windowStart: new Date(w.start),
        windowEndMs: w.end,
        cap: c.cap === 'budget' ? undefined : c.cap,
        capCheckedAt: 0,
        leased: 0,
        consumed: 0,
        sending: 0,
        reserved: 0,
        used: 0,
        others: 0,
        need: 0,
        want: 0,
        shrinking: false,
        lastActiveMs: nowMs,
      };
      buckets.set(key, b);
    } else if (c.cap !== 'budget') {
      b.cap = c.cap; // a key's limit changed: the next exchange carries it
    }
    return b;
  }

  async function exchange(): Promise<void> {
    const nowMs = clock.now().getTime();
    const items: Bucket[] = [];
    for (const b of buckets.values()) {
      const idle = nowMs - b.lastActiveMs > IDLE_RELEASE_MS;
      const recheck =
        b.metric === 'usd' && b.cap === null && nowMs - b.capCheckedAt > NO_CAP_RECHECK_MS;
      const release = idle && b.reserved === 0 && b.leased - b.consumed > 0;
      if (b.consumed > 0 || b.want > 0 || b.cap === undefined || release || recheck) {
        b.shrinking = release && b.want === 0;
        items.push(b);
      } else if (idle && b.reserved === 0 && b.leased === 0 && b.windowEndMs <= nowMs) {
        buckets.delete(b.key); // a past window with nothing left to tell
      } else if (idle && b.reserved === 0 && b.leased === 0 && nowMs - b.lastActiveMs > 60_000) {
        buckets.delete(b.key);
      }
    }
    const holding = [...buckets.values()].some((b) => b.leased > 0);
    if (items.length === 0 && !(holding && nowMs - lastExchangeMs >= ttlMs / 3)) return;
    const payload = items.map((b) => {
      b.sending = b.consumed;
      b.consumed = 0;
      const want = b.want;
      const need = b.need;
      b.want = 0;
      b.need = 0;
      return {
        s: b.subject,
        m: b.metric,
        p: b.period,
        w: b.windowStart.toISOString(),
        cap: b.metric === 'usd' ? null : b.cap,
        consumed: b.sending,
        need,
        want,
        keep: b.shrinking ? 0 : null,
      };
    });
    lastExchangeMs = nowMs;
    try {
      const r = await sql<SyncRow>`
        select * from tollgate_limit_sync(${holder}::uuid, ${ttlMs}::int, ${JSON.stringify(payload)}::jsonb)`.execute(
        db,
      );
      const byKey = new Map<string, SyncRow>();
      for (const row of r.rows) {
        byKey.set(`${row.subject}|${row.metric}|${row.period}|${row.window_start.getTime()}`, row);
      }
      const checkedAt = clock.now().getTime();
      for (const b of items) {
        const row = byKey.get(b.key);
        b.sending = 0;
        b.shrinking = false;
        if (!row) continue;
        if (b.metric === 'usd') {
          b.cap = row.cap === null ? null : Number(row.cap);
          b.capCheckedAt = checkedAt;
        }
        b.leased = Number(row.leased);
        b.used = Number(row.used);
        b.others = Number(row.others);
      }
    } catch (err) {
      for (const b of items) {
        b.consumed += b.sending; // told next time
        b.sending = 0;
        b.shrinking = false;
      }
      log.warn({ err: String((err as Error).message ?? err) }, 'limit exchange failed');
      throw err;
    }
  }

  /** One exchange at a time; a caller arriving during one gets the next (which carries its ask). */
  function sync(): Promise<void> {
    if (running === null) {
      running = exchange().finally(() => {
        running = null;
      });
      return running;
    }
    queued ??= running
      .catch(() => {})
      .then(() => {
        queued = null;
        return sync();
      });
    return queued;
  }

  function reserve(bs: Bucket[], checks: readonly LimitCheck[], nowMs: number): Admission {
    let budgeted = false;
    const taken: Array<{ b: Bucket; amount: number }> = [];
    for (let i = 0; i < bs.length; i++) {
      const b = bs[i] as Bucket;
      if (b.cap === null) continue;
      const amount = (checks[i] as LimitCheck).amount ?? 0;
      if (b.metric === 'usd') budgeted = true;
      b.reserved += amount;
      b.lastActiveMs = nowMs;
      taken.push({ b, amount });
    }
    if (taken.length === 0) return passAll;
    let settled = false;
    const admission: Admission = {
      budgeted,
      settle(used) {
        if (settled) return;
        settled = true;
        open.delete(admission);
        const at = clock.now().getTime();
        for (const { b, amount } of taken) {
          b.reserved -= amount;
          const u = b.metric === 'requests' ? amount : (used[b.metric] ?? 0);
          if (u > 0) b.consumed += u;
          b.lastActiveMs = at;
        }
      },
      rateLimitHeaders() {
        const h: Record<string, string> = {};
        const at = clock.now().getTime();
        for (const { b } of taken) {
          if (b.metric === 'usd' || b.cap === null || b.cap === undefined) continue;
          const suffix = b.metric === 'requests' ? 'requests' : 'tokens';
          const remaining =
            b.cap - b.used - b.others - b.consumed - b.sending - Math.max(0, b.reserved);
          h[`x-ratelimit-limit-${suffix}`] = String(b.cap);
          h[`x-ratelimit-remaining-${suffix}`] = String(Math.max(0, Math.floor(remaining)));
          h[`x-ratelimit-reset-${suffix}`] = formatReset(b.windowEndMs - at);
        }
        return h;
      },
    };
    open.set(admission, nowMs);
    return admission;
  }

  /** Releases reservations nobody settled (a leak would shrink this process's allowance). */
  function releaseAbandoned(nowMs: number): void {
    let n = 0;
    for (const [a, at] of open) {
      if (nowMs - at < maxHoldMs) break; // insertion order: the rest are younger
      a.settle({});
      n++;
    }
    if (n > 0) log.warn({ released: n }, 'released limit reservations never settled');
  }

  /** The first check that does not fit locally, or undefined when all fit. */
  function shortOf(bs: Bucket[], checks: readonly LimitCheck[]): number {
    for (let i = 0; i < bs.length; i++) {
      const b = bs[i] as Bucket;
      if (b.cap === null) continue;
      const amount = (checks[i] as LimitCheck).amount;
      if (b.cap === undefined) return i;
      if (amount === null) return i;
      if (available(b) < amount) return i;
    }
    return -1;
  }

  function unpricedRefusal(b: Bucket): DomainError {
    const [kind] = b.subject.split(':');
    return new DomainError(
      'forbidden',
      `this model has no price, and a ${kind} budget applies: calls under a USD budget need a priced model`,
      { param: 'model' },
    );
  }

  async function admit(checks: readonly LimitCheck[]): Promise<Admission> {
    if (checks.length === 0 || closed) return passAll;
    const nowMs = clock.now().getTime();
    const bs = checks.map((c) => bucketFor(c, nowMs));
    if (shortOf(bs, checks) === -1) return reserve(bs, checks, nowMs);
    // Not enough held here: one exchange for every bucket that is short, then decide.
    for (let i = 0; i < bs.length; i++) {
      const b = bs[i] as Bucket;
      if (b.cap === null) continue;
      const amount = (checks[i] as LimitCheck).amount ?? 0;
      const deficit = Math.max(0, amount - Math.max(0, available(b)));
      if (deficit > 0 || b.cap === undefined) {
        b.need = b.need === 0 ? deficit : Math.min(b.need, deficit);
        b.want += deficit + chunkOf(b, amount);
      }
    }
    try {
      await sync();
    } catch (err) {
      throw new DomainError('unavailable', 'spend limits cannot be checked: database unavailable', {
        cause: err,
      });
    }
    const after = clock.now().getTime();
    const i = shortOf(bs, checks);
    if (i !== -1) {
      const b = bs[i] as Bucket;
      if (b.cap !== null && (checks[i] as LimitCheck).amount === null) throw unpricedRefusal(b);
      throw refusal(b, after);
    }
    return reserve(bs, checks, after);
  }

  const timer = setInterval(() => {
    if (closed) return;
    releaseAbandoned(clock.now().getTime());
    void sync().catch(() => {});
  }, opts.tickMs ?? TICK_MS);
  timer.unref();

  return {
    holder,
    admit,
    flush: async () => {
      await sync().catch(() => {});
      // A second pass carries what the first one raced with.
      await sync().catch(() => {});
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await (running ?? Promise.resolve()).catch(() => {});
      try {
        const rest = [...buckets.values()]
          .filter((b) => b.consumed > 0)
          .map((b) => ({
            s: b.subject,
            m: b.metric,
            p: b.period,
            w: b.windowStart.toISOString(),
            cap: null,
            consumed: b.consumed,
            need: 0,
            want: 0,
            keep: 0,
          }));
        if (rest.length > 0) {
          await sql`select count(*) from tollgate_limit_sync(${holder}::uuid, ${ttlMs}::int, ${JSON.stringify(rest)}::jsonb)`.execute(
            db,
          );
        }
        await db.deleteFrom('limit_leases').where('holder', '=', holder).execute();
      } catch (err) {
        log.warn({ err: String(err) }, 'could not give limit leases back');
      }
    },
  };
}
