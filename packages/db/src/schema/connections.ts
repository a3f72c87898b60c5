import type { ColumnType, Generated } from 'kysely';
import type { TimestampDefault } from './types.ts';

export type ConnectionKind = 'openai' | 'openai-compatible' | 'azure-openai' | 'anthropic';

export interface ProviderConnectionsTable {
  id: Generated<string>;
  name: string;
  kind: ConnectionKind;
  base_url: string;
  /** AES-256-GCM under TOLLGATE_SECRET; never leaves core decrypted except to the provider client. */
  api_key_enc: string;
  key_prefix: string;
  api_version: string | null;
  headers: ColumnType<Record<string, string>, string | undefined, string>;
  rpm_limit: number | null;
  tpm_limit: number | null;
  created_at: TimestampDefault;
  updated_at: TimestampDefault;
}

// Tables of the provider-connections issue (#16); models.deployments/routing and
// request_logs.connection are columns added to the gateway's tables (see gateway.ts).
export interface ConnectionTables {
  provider_connections: ProviderConnectionsTable;
}
