import type { ColumnType, Generated } from 'kysely';

export type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** int8 arrives from pg as a string; keep it one. */
export type Int8 = ColumnType<string, string | number | bigint, string | number | bigint>;
/** numeric (money) arrives as a string and is written as one: never a JS float. */
export type Decimal = ColumnType<string, string, string>;
export type Json<T = unknown> = ColumnType<T, string, string>;
export type { Generated };
/** A timestamp column with a default (kysely's Generated<> must not wrap a ColumnType). */
export type TimestampDefault = ColumnType<Date, Date | string | undefined, Date | string>;
