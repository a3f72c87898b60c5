import type { ColumnType } from 'kysely';
import type { Decimal, Generated, Int8, Timestamp, TimestampDefault } from './types.ts';

export type BudgetScope = 'key' | 'user' | 'team';
export type BudgetPeriod = 'day' | 'month';

export interface BudgetsTable {
  id: Generated<string>;
  scope: BudgetScope;
  target_id: string;
  period: BudgetPeriod;
  amount_usd: Decimal;
  created_at: TimestampDefault;
  updated_at: TimestampDefault;
}

export interface LimitWindowsTable {
  subject: string;
  metric: string;
  period: string;
  window_start: Timestamp;
  used: ColumnType<string, string | number | undefined, string | number>;
}

export interface LimitLeasesTable {
  holder: string;
  subject: string;
  metric: string;
  period: string;
  window_start: Timestamp;
  amount: ColumnType<string, string | number | undefined, string | number>;
  expires_at: Timestamp;
}

export interface ResponseCacheTable {
  owner_id: string;
  cache_key: Buffer;
  model: string;
  response: ColumnType<unknown, string, string>;
  created_at: TimestampDefault;
  expires_at: Timestamp;
}

export interface UsageHourlyTable {
  hour: Timestamp;
  user_id: string;
  key_id: string | null;
  model: string;
  requests: Int8;
  errors: Int8;
  rejected: Int8;
  cache_hits: Int8;
  input_tokens: Int8;
  cached_input_tokens: Int8;
  output_tokens: Int8;
  reasoning_tokens: Int8;
  cost_usd: Decimal;
  unpriced: Int8;
}

export interface UsageRollupStateTable {
  id: Generated<boolean>;
  watermark: Timestamp;
}

// Tables of the spend issue (#12): budgets, limits, cache, usage rollups.
export interface SpendTables {
  budgets: BudgetsTable;
  limit_windows: LimitWindowsTable;
  limit_leases: LimitLeasesTable;
  response_cache: ResponseCacheTable;
  usage_hourly: UsageHourlyTable;
  usage_rollup_state: UsageRollupStateTable;
}
