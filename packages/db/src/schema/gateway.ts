import type { ColumnType, Generated } from 'kysely';
import type { TimestampDefault } from './types.ts';

/** A nullable numeric (price, cost): a decimal string or null, never a JS float. */
type NullableDecimal = ColumnType<string | null, string | null | undefined, string | null>;

export interface ModelsTable {
  name: string;
  provider: string;
  upstream_model: string;
  kind: 'chat' | 'embedding';
  input_price_per_mtok: NullableDecimal;
  output_price_per_mtok: NullableDecimal;
  cached_input_price_per_mtok: NullableDecimal;
  cache_write_price_per_mtok: NullableDecimal;
  context_window: number | null;
  max_output_tokens: number | null;
  enabled: Generated<boolean>;
  aliases: ColumnType<string[], string[] | undefined, string[]>;
  fallbacks: ColumnType<string[], string[] | undefined, string[]>;
  /** Migration 0013: [] = the legacy provider + upstream_model; else routed deployments. */
  deployments: ColumnType<DeploymentRow[], string | undefined, string>;
  routing: ColumnType<RoutingStrategy, RoutingStrategy | undefined, RoutingStrategy>;
  created_at: TimestampDefault;
  updated_at: TimestampDefault;
}

export type RoutingStrategy = 'weighted' | 'least-in-flight' | 'lowest-latency';

/** One element of models.deployments (jsonb). */
export type DeploymentRow = {
  provider: string;
  upstreamModel: string;
  weight: number;
  inputPricePerMTok: string | null;
  outputPricePerMTok: string | null;
};

export type RequestStatus = 'ok' | 'error' | 'aborted' | 'rejected';
export type RequestSurface = 'trpc' | 'rest' | 'openai' | 'anthropic' | 'batch';

export interface RequestLogsTable {
  id: Generated<string>;
  request_id: string;
  user_id: string;
  key_id: string | null;
  batch_item_id: string | null;
  model: string;
  provider: string;
  upstream_model: string;
  status: RequestStatus;
  error_code: string | null;
  latency_ms: number;
  ttft_ms: number | null;
  input_tokens: Generated<number>;
  cached_input_tokens: Generated<number>;
  cache_write_tokens: Generated<number>;
  output_tokens: Generated<number>;
  reasoning_tokens: Generated<number>;
  usage_estimated: Generated<boolean>;
  cost_usd: NullableDecimal;
  cache_hit: Generated<boolean>;
  surface: RequestSurface | null;
  /** Migration 0013: the connection name that served the call. */
  connection: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: TimestampDefault;
}

export interface RequestBodiesTable {
  log_id: string;
  request_id: string;
  request: ColumnType<unknown, string | null, string | null>;
  response: ColumnType<unknown, string | null, string | null>;
  created_at: TimestampDefault;
}

export interface RequestClaimsTable {
  request_id: string;
  user_id: string;
  created_at: TimestampDefault;
}

// Tables of the gateway issue (model catalog, request log).
export interface GatewayTables {
  models: ModelsTable;
  request_logs: RequestLogsTable;
  request_bodies: RequestBodiesTable;
  request_claims: RequestClaimsTable;
}
