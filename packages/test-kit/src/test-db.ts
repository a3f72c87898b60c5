import { randomUUID } from 'node:crypto';
import { createDb, createPool, type DB } from '@tollgate/db';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import { inject } from 'vitest';
import './provided.ts';

export type TestDb = {
  name: string;
  url: string;
  pool: pg.Pool;
  db: Kysely<DB>;
  /** Drops the database (with force); call in afterAll. */
  drop: () => Promise<void>;
};

/** A fresh database for one test file, cloned from the migrated template. */
export async function createTestDb(): Promise<TestDb> {
  const { template, adminUrl } = inject('pg');
  const name = `t_${randomUUID().replaceAll('-', '')}`;
  const admin = createPool(adminUrl, { max: 1 });
  await admin.query(`create database ${name} template ${template}`);
  const url = adminUrl.replace(/\/postgres$/, `/${name}`);
  const pool = createPool(url, { max: 20 });
  const db = createDb(pool);
  return {
    name,
    url,
    pool,
    db,
    drop: async () => {
      await db.destroy();
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
