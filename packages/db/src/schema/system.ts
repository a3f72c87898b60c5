import type { TimestampDefault } from './types.ts';

export interface WorkerHeartbeatsTable {
  /** graphile-worker's worker id, as it writes it into `locked_by`. */
  worker_id: string;
  hostname: string;
  pid: number;
  started_at: TimestampDefault;
  seen_at: TimestampDefault;
}

export interface SystemTables {
  worker_heartbeats: WorkerHeartbeatsTable;
}
