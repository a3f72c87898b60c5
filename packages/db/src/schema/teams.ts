import type { ColumnType, Generated } from 'kysely';
import type { Json, TimestampDefault } from './types.ts';

export interface TeamsTable {
  id: Generated<string>;
  name: string;
  /** Catalog names or aliases; empty = every model. */
  allowed_models: ColumnType<string[], string[] | undefined, string[]>;
  rpm_limit: number | null;
  tpm_limit: number | null;
  created_at: TimestampDefault;
  updated_at: TimestampDefault;
}

export type TeamRole = 'member' | 'manager';

export interface TeamMembersTable {
  team_id: string;
  user_id: string;
  role: TeamRole;
  created_at: TimestampDefault;
}

/** Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE but the retention purge). */
export interface AuditLogTable {
  id: Generated<string>;
  actor_id: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  before: Json | null;
  after: Json | null;
  request_id: string | null;
  created_at: TimestampDefault;
}

export interface TeamTables {
  teams: TeamsTable;
  team_members: TeamMembersTable;
  audit_log: AuditLogTable;
}
