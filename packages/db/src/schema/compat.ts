import type { ColumnType } from 'kysely';
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

/** What an OpenAI Batch adds to its Tollgate batch (migration 0019). */
export interface OpenAIBatchesTable {
  batch_id: string;
  input_file_id: string;
  endpoint: string;
  completion_window: string;
  metadata: ColumnType<Record<string, string> | null, string | null, string | null>;
}

export interface CompatTables {
  responses: ResponsesTable;
  files: FilesTable;
  openai_batches: OpenAIBatchesTable;
}
