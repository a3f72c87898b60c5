import { sql } from 'kysely';
import { DomainError } from './errors.ts';

export type Page<T> = { items: T[]; nextCursor: string | null };
export type PageInput = { limit?: number | undefined; cursor?: string | null | undefined };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** limit (default 50, max 500) and the cursor: the id of the last row of the previous page. */
export function pageParams(input: PageInput): { limit: number; cursor: string | undefined } {
  const limit = Math.min(Math.max(Math.trunc(input.limit ?? 50), 1), 500);
  const cursor = input.cursor ?? undefined;
  if (cursor !== undefined && !UUID.test(cursor)) {
    throw new DomainError('bad_request', 'invalid cursor', { param: 'cursor' });
  }
  return { limit, cursor };
}

/** Rows were fetched with limit + 1: the extra one only says whether there is a next page. */
export function toPage<R extends { id: string }, T>(
  rows: R[],
  limit: number,
  map: (r: R) => T,
): Page<T> {
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  return { items: shown.map(map), nextCursor: more ? (shown.at(-1)?.id ?? null) : null };
}

/**
 * Rows strictly after the cursor row in newest-first (created_at, id) order: the keyset condition
 * of every list ordered that way. `table` is a fixed name from our own code, never input.
 */
export function olderThanCursor(
  table: 'users' | 'api_keys' | 'teams' | 'audit_log',
  cursor: string,
) {
  return sql<boolean>`(created_at, id) < (select created_at, id from ${sql.table(table)} where id = ${cursor})`;
}
