import type { Int8, Json, TimestampDefault } from './types.ts';

/** A stored OpenAI Response (migration 0008). */
export interface ResponsesTable {
  id: string;
  user_id: string;
  model: string;
  input: Json<unknown[]>;
  output: Json<unknown[]>;
  body: Json<Record<string, unknown>>;
  created_at: TimestampDefault;
}

/** An OpenAI File (migration 0008). */
export interface FilesTable {
  id: string;
  user_id: string;
  purpose: string;
  filename: string;
  bytes: Int8;
  content: Buffer;
  created_at: TimestampDefault;
}

export interface CompatTables {
  responses: ResponsesTable;
  files: FilesTable;
}
