import type { ColumnType, Generated } from 'kysely';
import type { Int8, TimestampDefault } from './types.ts';

export type BatchStatus = 'queued' | 'running' | 'completed' | 'cancelled' | 'failed';
export type BatchItemStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

type NullableTimestamp = ColumnType<
  Date | null,
  Date | string | null | undefined,
  Date | string | null
>;
type NullableJson = ColumnType<unknown, string | null | undefined, string | null>;

export interface BatchesTable {
  id: string;
  user_id: string;
  key_id: string | null;
  status: Generated<BatchStatus>;
  total: number;
  done: Generated<number>;
  cost_usd: ColumnType<string, string | undefined, string>;
  webhook_url: string | null;
  created_at: TimestampDefault;
  started_at: NullableTimestamp;
  cancelled_at: NullableTimestamp;
  finished_at: NullableTimestamp;
}

export interface BatchItemsTable {
  id: Generated<string>;
  batch_id: string;
  idx: number;
  custom_id: string | null;
  provider: string;
  request: ColumnType<unknown, string, string>;
  status: Generated<BatchItemStatus>;
  attempts: Generated<number>;
  job_id: ColumnType<string | null, Int8 | null | undefined, string | number | null>;
  request_id: string | null;
  response: NullableJson;
  error: NullableJson;
  updated_at: TimestampDefault;
}

export interface BatchItemChargesTable {
  batch_item_id: string;
  log_id: string;
  created_at: TimestampDefault;
}

export interface IdempotencyKeysTable {
  user_id: string;
  key: string;
  request_hash: string;
  batch_id: string;
  created_at: TimestampDefault;
}

export interface WebhookSecretsTable {
  user_id: string;
  secret_enc: string;
  created_at: TimestampDefault;
}

export interface WebhookDeliveriesTable {
  id: Generated<string>;
  batch_id: string;
  attempt: number;
  url: string;
  status_code: number | null;
  ok: boolean;
  error: string | null;
  duration_ms: number;
  created_at: TimestampDefault;
}

// Tables of the background-work issue (#11).
export interface BatchTables {
  batches: BatchesTable;
  batch_items: BatchItemsTable;
  batch_item_charges: BatchItemChargesTable;
  idempotency_keys: IdempotencyKeysTable;
  webhook_secrets: WebhookSecretsTable;
  webhook_deliveries: WebhookDeliveriesTable;
}
