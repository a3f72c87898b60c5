import type { Generated, Timestamp, TimestampDefault } from './types.ts';

export interface UsersTable {
  id: Generated<string>;
  email: string;
  password_hash: string;
  role: 'admin' | 'member';
  disabled: Generated<boolean>;
  created_at: TimestampDefault;
  updated_at: TimestampDefault;
}

export interface ApiKeysTable {
  id: Generated<string>;
  user_id: string;
  name: string;
  prefix: string;
  key_hash: Buffer;
  scopes: string[];
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
  rpm_limit: number | null;
  tpm_limit: number | null;
  log_bodies: boolean | null;
  cache: Generated<boolean>;
  created_at: TimestampDefault;
}

export interface IdentityTables {
  users: UsersTable;
  api_keys: ApiKeysTable;
}
