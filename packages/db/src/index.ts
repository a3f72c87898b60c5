export type { EmbeddedOptions, EmbeddedPostgresHandle } from './embedded.ts';
export { AlreadyRunningError, freePort, startEmbeddedPostgres } from './embedded.ts';
export { migrate, migrationNames, pendingMigrations } from './migrate.ts';
export type { PoolOptions } from './pool.ts';
export { createDb, createPool } from './pool.ts';
export type { BatchItemStatus, BatchStatus } from './schema/batches.ts';
export type { BudgetPeriod, BudgetScope } from './schema/spend.ts';
export type { Decimal, Int8, Json, Timestamp, TimestampDefault } from './schema/types.ts';
export type { DB } from './schema.ts';
