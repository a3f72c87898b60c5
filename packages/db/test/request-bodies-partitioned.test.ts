import { randomUUID } from 'node:crypto';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrations } from '../migrations/index.ts';
import { createPool } from '../src/pool.ts';

// The global setup (test-kit) provides this; test-kit itself depends on this package.
declare module 'vitest' {
  export interface ProvidedContext {
    pg: { port: number; template: string; adminUrl: string };
  }
}

const provider = (names: string[]): MigrationProvider => ({
  getMigrations: async () => Object.fromEntries(names.map((n) => [n, migrations[n] as Migration])),
});

async function migrateTo(db: Kysely<unknown>, names: string[]): Promise<void> {
  const { error } = await new Migrator({ db, provider: provider(names) }).migrateToLatest();
  if (error) throw error;
}

const admin = createPool(inject('pg').adminUrl, { max: 1 });
// An empty database (not the migrated template): 0004 must run over data 0003's schema holds.
const name = `m_${randomUUID().replaceAll('-', '')}`;
let db: Kysely<unknown>;

beforeAll(async () => {
  await admin.query(`create database ${name}`);
  const pool = createPool(inject('pg').adminUrl.replace(/\/postgres$/, `/${name}`), { max: 4 });
  db = new Kysely({ dialect: new PostgresDialect({ pool }) });
});
afterAll(async () => {
  await db?.destroy();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
});

const all = Object.keys(migrations).sort();
const before0004 = all.filter((n) => n < '0004');

describe('migration 0004: request_bodies partitioned by month', () => {
  it('keeps existing bodies, dated like their log row, in monthly partitions', async () => {
    await migrateTo(db, before0004);
    // Two months back: a month only the old bodies need a partition for.
    const old = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() - 2, 10));
    await sql`select tollgate_ensure_request_log_partitions(${old.toISOString()}::timestamptz, 0)`.execute(
      db,
    );
    const logs = [
      { id: randomUUID(), at: old },
      { id: randomUUID(), at: new Date() },
    ];
    for (const l of logs) {
      await sql`
        insert into request_logs (id, request_id, user_id, model, provider, upstream_model, status,
          latency_ms, created_at)
        values (${l.id}, ${`req-${l.id}`}, gen_random_uuid(), 'm', 'mock', 'm', 'ok', 1, ${l.at})`.execute(
        db,
      );
      // Written a little after its log row, as a body of the old schema could be.
      await sql`
        insert into request_bodies (log_id, request_id, request, response, created_at)
        values (${l.id}, ${`req-${l.id}`}, ${JSON.stringify({ q: l.id })}::jsonb, '"a"'::jsonb,
          ${new Date(l.at.getTime() + 1500)})`.execute(db);
    }
    // A body whose log partition retention already dropped: the body is kept as it is, and the
    // migration must not bring the log partition back.
    const orphan = randomUUID();
    const orphanAt = new Date(Date.UTC(2001, 0, 5));
    await sql`
      insert into request_bodies (log_id, request_id, request, response, created_at)
      values (${orphan}, 'req-orphan', null, null, ${orphanAt})`.execute(db);

    await migrateTo(db, all);

    const partitioned = await sql<{ strategy: string; keys: string }>`
      select p.partstrat as strategy, pg_get_partkeydef(p.partrelid) as keys
      from pg_partitioned_table p where p.partrelid = 'request_bodies'::regclass`.execute(db);
    expect(partitioned.rows).toEqual([{ strategy: 'r', keys: 'RANGE (created_at)' }]);

    const pk = await sql<{ def: string }>`
      select pg_get_constraintdef(oid) as def from pg_constraint
      where conrelid = 'request_bodies'::regclass and contype = 'p'`.execute(db);
    expect(pk.rows).toEqual([{ def: 'PRIMARY KEY (log_id, created_at)' }]);

    const rows = await sql<{ log_id: string; part: string; request: unknown; aligned: boolean }>`
      select b.log_id, b.tableoid::regclass::text as part, b.request,
        b.created_at = l.created_at as aligned
      from request_bodies b join request_logs l on l.id = b.log_id
      order by b.created_at`.execute(db);
    const month = (d: Date) =>
      `request_bodies_${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    expect(rows.rows).toEqual(
      logs.map((l) => ({
        log_id: l.id,
        part: month(l.at),
        request: { q: l.id },
        aligned: true,
      })),
    );
    const kept = await sql<{ part: string; created_at: Date }>`
      select tableoid::regclass::text as part, created_at from request_bodies
      where log_id = ${orphan}`.execute(db);
    expect(kept.rows).toEqual([{ part: 'request_bodies_2001_01', created_at: orphanAt }]);
    const tables = await sql<{ t: string | null }>`
      select to_regclass(t)::text as t
      from unnest(array['request_logs_2001_01', 'request_bodies_old']) as t`.execute(db);
    expect(tables.rows).toEqual([{ t: null }, { t: null }]);
  });
});
