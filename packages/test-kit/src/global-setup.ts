import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, migrate, startEmbeddedPostgres } from '@tollgate/db';
import type { TestProject } from 'vitest/node';
import './provided.ts';

const TEMPLATE = 'tollgate_template';

/**
 * One embedded Postgres for the whole run: a template database migrated once, that every test
 * file clones (CREATE DATABASE … TEMPLATE) so files never share rows.
 */
export default async function setup(project: TestProject) {
  const tempDir = mkdtempSync(join(tmpdir(), 'tollgate-test-'));
  const dataDir = join(tempDir, 'pg');
  const pg = await startEmbeddedPostgres({ dataDir, persistent: false });
  const admin = createPool(pg.url('postgres'), { max: 1 });
  await admin.query(`create database ${TEMPLATE}`);
  const pool = createPool(pg.url(TEMPLATE), { max: 2 });
  await migrate(pool);
  // A template with any open connection cannot be cloned: close ours before marking it.
  await pool.end();
  await admin.query(`alter database ${TEMPLATE} with is_template true`);
  await admin.end();
  project.provide('pg', { port: pg.port, template: TEMPLATE, adminUrl: pg.url('postgres') });
  return async () => {
    await pg.stop();
    rmSync(tempDir, { recursive: true, force: true });
  };
}
