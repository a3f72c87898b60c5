import type { ColumnType } from 'kysely';
import type { Generated, Json, Timestamp, TimestampDefault } from './types.ts';

export interface UsersTable {
  id: Generated<string>;
  email: string;
  password_hash: string;
  role: 'admin' | 'member';
  disabled: Generated<boolean>;
  token_generation: Generated<number>;
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
  /** The key's team (0007), fixed at creation. */
  team_id: string | null;
  /** Catalog names or aliases (0007); empty = every model. */
  allowed_models: ColumnType<string[], string[] | undefined, string[]>;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: Json<Record<string, unknown>>;
  private_jwk_enc: string;
  created_at: TimestampDefault;
  superseded_at: Timestamp | null;
}

export interface RefreshTokensTable {
  id: Generated<string>;
  user_id: string;
  family_id: string;
  token_hash: Buffer;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  revoked_at: Timestamp | null;
  created_at: TimestampDefault;
}

export interface LoginFailuresTable {
  id: ColumnType<string, never, never>;
  account: string;
  ip: string;
  at: TimestampDefault;
}

export interface IdentityTables {
  users: UsersTable;
  api_keys: ApiKeysTable;
  signing_keys: SigningKeysTable;
  refresh_tokens: RefreshTokensTable;
  login_failures: LoginFailuresTable;
}
