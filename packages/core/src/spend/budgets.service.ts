import type { BudgetPeriod, BudgetScope } from '@tollgate/db';
import { sql } from 'kysely';
import { hasScope, type UserPrincipal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';
import { type Page, type PageInput, pageParams, toPage } from '../pagination.ts';

export type BudgetInput = {
  scope: BudgetScope;
  targetId: string;
  period: BudgetPeriod;
  /** A decimal string (or a number), in USD. */
  amountUsd: string;
};

/** A budget with what its current period (UTC) has used so far. */
export type BudgetView = {
  id: string;
  scope: BudgetScope;
  targetId: string;
  period: BudgetPeriod;
  amountUsd: string;
  /** Settled spend of the current period (flushed by every process at least once a second). */
  spentUsd: string;
  /** Allowance live processes hold for calls in flight and their next calls. */
  reservedUsd: string;
  /** amount − spent − reserved, never below 0. */
  remainingUsd: string;
  periodStart: string;
  resetsAt: string;
  createdAt: string;
  updatedAt: string;
};

const DECIMAL = /^\d{1,10}(\.\d{1,10})?$/;

const seesAll = (p: UserPrincipal) => p.role === 'admin' && hasScope(p, 'admin');

/** Sets (creates or replaces) the budget of one key or user for one period; admin only. */
export async function setBudget(
  deps: Deps,
  p: UserPrincipal,
  input: BudgetInput,
): Promise<BudgetView> {
  if (!seesAll(p)) throw new DomainError('forbidden', 'admin only');
  if (input.scope === 'team') {
    // TODO(#18): team budgets arrive with teams; the schema already admits the scope.
    throw new DomainError('bad_request', "scope 'team' is not available yet: teams do not exist", {
      param: 'scope',
    });
  }
  if (!DECIMAL.test(input.amountUsd)) {
    throw new DomainError('bad_request', 'amountUsd must be a non-negative decimal', {
      param: 'amountUsd',
    });
  }
  const exists =
    input.scope === 'key'
      ? await deps.db
          .selectFrom('api_keys')
          .select('id')
          .where('id', '=', input.targetId)
          .executeTakeFirst()
      : await deps.db
          .selectFrom('users')
          .select('id')
          .where('id', '=', input.targetId)
          .executeTakeFirst();
  if (!exists) {
    throw new DomainError('not_found', `${input.scope} ${input.targetId} not found`, {
      param: 'targetId',
    });
  }
  const row = await deps.db
    .insertInto('budgets')
    .values({
      scope: input.scope,
      target_id: input.targetId,
      period: input.period,
      amount_usd: input.amountUsd,
    })
    .onConflict((oc) =>
      oc.columns(['scope', 'target_id', 'period']).doUpdateSet({
        amount_usd: input.amountUsd,
        updated_at: sql`now()`,
      }),
    )
    .returning('id')
    .executeTakeFirstOrThrow();
  const page = await budgetRows(deps, { ids: [row.id] }, 1);
  return page[0] as BudgetView;
}

type BudgetRow = {
  id: string;
  scope: BudgetScope;
  target_id: string;
  period: BudgetPeriod;
  amount_usd: string;
  spent: string;
  reserved: string;
  period_start: Date;
  resets_at: Date;
  created_at: Date;
  updated_at: Date;
};

/** Budgets with the use of their current UTC period, from the limit windows and live leases. */
async function budgetRows(
  deps: Deps,
  filter: { ids?: string[]; userId?: string; cursor?: string },
  limit: number,
): Promise<BudgetView[]> {
  const ids = filter.ids ?? null;
  const userId = filter.userId ?? null;
  const cursor = filter.cursor ?? null;
  const r = await sql<BudgetRow>`
    with b as (
      select b.*, date_trunc(b.period, now() at time zone 'UTC') at time zone 'UTC' as period_start
        from budgets b
       where (${ids}::uuid[] is null or b.id = any(${ids}::uuid[]))
         and (${userId}::uuid is null
              or (b.scope = 'user' and b.target_id = ${userId}::uuid)
              or (b.scope = 'key' and b.target_id in (
                    select k.id from api_keys k where k.user_id = ${userId}::uuid)))
         and (${cursor}::uuid is null or (b.created_at, b.id) <
              (select c.created_at, c.id from budgets c where c.id = ${cursor}::uuid))
    )
    select b.id, b.scope, b.target_id, b.period, b.amount_usd, b.period_start,
      b.period_start + case b.period when 'day' then interval '1 day' else interval '1 month' end
        as resets_at,
      b.created_at, b.updated_at,
      coalesce((select w.used from limit_windows w
                 where w.subject = b.scope || ':' || b.target_id and w.metric = 'usd'
                   and w.period = b.period and w.window_start = b.period_start), 0) as spent,
      coalesce((select sum(l.amount) from limit_leases l
                 where l.subject = b.scope || ':' || b.target_id and l.metric = 'usd'
                   and l.period = b.period and l.window_start = b.period_start
                   and l.expires_at > now()), 0) as reserved
      from b
     order by b.created_at desc, b.id desc
     limit ${limit}`.execute(deps.db);
  return r.rows.map((row) => {
    const remaining = Math.max(
      0,
      Number(row.amount_usd) - Number(row.spent) - Number(row.reserved),
    );
    return {
      id: row.id,
      scope: row.scope,
      targetId: row.target_id,
      period: row.period,
      amountUsd: decimal(row.amount_usd),
      spentUsd: decimal(row.spent),
      reservedUsd: decimal(row.reserved),
      remainingUsd: decimal(remaining.toFixed(10)),
      periodStart: row.period_start.toISOString(),
      resetsAt: row.resets_at.toISOString(),
      createdAt: row.created_at.toISOString(),
      updatedAt: row.updated_at.toISOString(),
    };
  });
}

/** A numeric's text without trailing zeros: "0.0000105", "5". */
function decimal(v: string | number): string {
  const s = String(v);
  if (!s.includes('.')) return s;
  const t = s.replace(/0+$/, '').replace(/\.$/, '');
  return t === '' || t === '-' ? '0' : t;
}

/** The budgets of the caller's user and keys (an admin with the admin scope: all), newest first. */
export async function listBudgets(
  deps: Deps,
  p: UserPrincipal,
  input: PageInput,
): Promise<Page<BudgetView>> {
  const { limit, cursor } = pageParams(input);
  const rows = await budgetRows(
    deps,
    {
      ...(seesAll(p) ? {} : { userId: p.userId }),
      ...(cursor ? { cursor } : {}),
    },
    limit + 1,
  );
  return toPage(rows, limit, (r) => r);
}
