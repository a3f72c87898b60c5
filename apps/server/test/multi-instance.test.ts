import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, createPool, type DB, migrationNames } from '@tollgate/db';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Running, startTollgate } from './spawn.ts';

// Two instances started separately (two `pnpm start`s, as two hosts or two pods would be), each
// with its own supervisor, server and worker, on one fresh, empty database.

const SECRET = 'multi-instance-test-secret-0123456789abcdef';
const ADMIN = { email: 'ops@example.com', password: 'correct horse battery' };

let name: string;
let admin: ReturnType<typeof createPool>;
let pool: ReturnType<typeof createPool>;
let db: Kysely<DB>;
const homes: string[] = [];
const instances: Running[] = [];
const urls: string[] = [];

beforeAll(async () => {
  const { adminUrl } = inject('pg');
  admin = createPool(adminUrl, { max: 1 });
  name = `mi_${Date.now()}_${process.pid}`;
  await admin.query(`create database ${name}`); // empty: no template, nothing migrated
  const url = adminUrl.replace(/\/postgres$/, `/${name}`);
  pool = createPool(url, { max: 4 });
  db = createDb(pool);
  for (let i = 0; i < 2; i++) {
    const home = mkdtempSync(join(tmpdir(), `tollgate-mi-${i}-`));
    homes.push(home);
    instances.push(
      startTollgate({
        DATABASE_URL: url,
        TOLLGATE_SECRET: SECRET,
        TOLLGATE_HOME: home,
        TOLLGATE_ADMIN_EMAIL: ADMIN.email,
        TOLLGATE_ADMIN_PASSWORD: ADMIN.password,
        PORT: '0',
      }),
    );
  }
  // Both at once: concurrent first starts on one empty database.
  for (const t of instances) {
    const m = await t.waitFor(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/m, 90_000);
    urls.push(m[1] as string);
  }
}, 120_000);

afterAll(async () => {
  for (const t of instances) if (t.proc.exitCode === null) process.kill(-t.pid, 'SIGTERM');
  await Promise.all(instances.map((t) => t.exited));
  await db?.destroy();
  await admin?.query(`drop database if exists ${name} with (force)`);
  await admin?.end();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const adminKey = () => {
  const m = instances.map((t) => t.stdout().match(/^admin api key: (tg_\S+)$/m)).find(Boolean);
  if (!m) throw new Error('no first-start banner');
  return m[1] as string;
};

async function call(base: string, method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
}

describe('two instances on one database', () => {
  it('concurrent first start: migrated once, one first admin, one banner, both serving', async () => {
    const rows = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
    expect(rows.rows.map((r) => r.name).sort()).toEqual([...migrationNames]);
    const admins = await db.selectFrom('users').select('email').execute();
    expect(admins.map((a) => a.email)).toEqual([ADMIN.email]);
    const banners = instances.filter((t) => /^admin api key: /m.test(t.stdout()));
    expect(banners).toHaveLength(1);
    for (const u of urls) expect((await call(u, 'GET', '/healthz')).status).toBe(200);
    expect(urls[0]).not.toBe(urls[1]);
  });

  it('a user disabled on one instance is refused by the other within 1 s (key and JWT)', async () => {
    const [a, b] = urls as [string, string];
    const key = adminKey();
    const created = await call(a, 'POST', '/api/users', key, {
      email: 'member@example.com',
      password: 'member password 1',
      role: 'member',
    });
    expect(created.status).toBe(200);
    const login = await call(b, 'POST', '/api/auth/login', undefined, {
      email: 'member@example.com',
      password: 'member password 1',
    });
    expect(login.status).toBe(200);
    const jwt = login.json.accessToken as string;
    const memberKey = (await call(b, 'POST', '/api/keys', jwt, { name: 'k' })).json.key as string;
    // Both instances have seen (and cached) both credentials.
    for (const u of urls) {
      for (const t of [jwt, memberKey])
        expect((await call(u, 'GET', '/api/me', t)).status).toBe(200);
    }
    const disabled = await call(a, 'PATCH', `/api/users/${created.json.id}`, key, {
      disabled: true,
    });
    expect(disabled.status).toBe(200);
    for (const t of [memberKey, jwt]) {
      const start = Date.now();
      let status = 200;
      while (Date.now() - start < 1000 && status !== 401) {
        status = (await call(b, 'GET', '/api/me', t)).status;
        if (status !== 401) await new Promise((r) => setTimeout(r, 20));
      }
      expect(status).toBe(401);
    }
  });

  it('request ids are unique across instances', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) {
      for (const u of urls) {
        const id = (await call(u, 'GET', '/healthz')).headers.get('x-request-id');
        expect(id).toBeTruthy();
        ids.add(id as string);
      }
    }
    expect(ids.size).toBe(100);
  });

  it('a cron tick runs once across both workers', async () => {
    // Record every job graphile-worker inserts for a cron tick; both workers try every minute.
    await sql`create table cron_seen (task_id int, ts text, at timestamptz default now())`.execute(
      db,
    );
    await sql`create function cron_seen() returns trigger language plpgsql as $$
      begin
        if new.payload::jsonb ? '_cron' then
          insert into cron_seen (task_id, ts) values (new.task_id, new.payload::jsonb->'_cron'->>'ts');
        end if;
        return new;
      end $$`.execute(db);
    await sql`create trigger cron_seen after insert on graphile_worker._private_jobs
      for each row execute function cron_seen()`.execute(db);
    // Both workers are up (each records a heartbeat under its own id).
    const beats = await db.selectFrom('worker_heartbeats').selectAll().execute();
    expect(beats.length).toBeGreaterThanOrEqual(2);
    // worker_heartbeat is every minute: wait for one tick, then a little for a late duplicate.
    const deadline = Date.now() + 75_000;
    let seen: { task_id: number; ts: string }[] = [];
    while (seen.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      seen = (
        await sql<{ task_id: number; ts: string }>`select task_id, ts from cron_seen`.execute(db)
      ).rows;
    }
    expect(seen.length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 3000));
    seen = (
      await sql<{ task_id: number; ts: string }>`select task_id, ts from cron_seen`.execute(db)
    ).rows;
    const perTick = new Map<string, number>();
    for (const r of seen)
      perTick.set(`${r.task_id}@${r.ts}`, (perTick.get(`${r.task_id}@${r.ts}`) ?? 0) + 1);
    expect([...perTick.values()].every((n) => n === 1)).toBe(true);
  }, 90_000);
});
