import { type Kysely, sql } from 'kysely';

// Frozen in time: migrations never import application code.
export async function up(db: Kysely<any>): Promise<void> {
  // Teams: a name, a model allow-list (empty = every model) and per-team RPM/TPM limits.
  await db.schema
    .createTable('teams')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('allowed_models', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('rpm_limit', 'integer')
    .addColumn('tpm_limit', 'integer')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create unique index teams_name_lower on teams (lower(name))`.execute(db);

  // A user may belong to several teams, once each, as `member` or `manager`.
  await db.schema
    .createTable('team_members')
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('member', 'manager')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('team_members_pk', ['team_id', 'user_id'])
    .execute();
  await db.schema.createIndex('team_members_user').on('team_members').column('user_id').execute();

  // A key may belong to one team (fixed at creation); deleting a team revokes its keys first, so
  // `set null` only ever touches revoked keys. allowed_models: empty = every model.
  await db.schema
    .alterTable('api_keys')
    .addColumn('team_id', 'uuid', (c) => c.references('teams.id').onDelete('set null'))
    .addColumn('allowed_models', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .execute();
  await sql`create index api_keys_team_id on api_keys (team_id) where team_id is not null`.execute(
    db,
  );

  // The audit log: one row per admin or manager action, written in the transaction of the change.
  // No foreign keys: a row outlives whatever it names, and nothing may cascade into it.
  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('actor_id', 'uuid')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_type', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text')
    .addColumn('before', 'jsonb')
    .addColumn('after', 'jsonb')
    .addColumn('request_id', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index audit_log_created on audit_log (created_at desc, id desc)`.execute(db);
  await sql`create index audit_log_actor on audit_log (actor_id, created_at desc)`.execute(db);
  await sql`create index audit_log_target on audit_log (target_type, target_id, created_at desc)`.execute(
    db,
  );

  // Append-only, enforced by the database: UPDATE, DELETE and TRUNCATE raise, whatever the caller.
  // The one exception is the retention purge below, which sets a transaction-local flag.
  await sql`
    create function audit_log_append_only() returns trigger language plpgsql as $$
    begin
      if tg_op = 'DELETE' and current_setting('tollgate.audit_purge', true) = 'on' then
        return old;
      end if;
      raise exception 'audit_log is append-only (% refused)', tg_op
        using errcode = 'insufficient_privilege';
    end
    $$`.execute(db);
  await sql`
    create trigger audit_log_no_change before update or delete on audit_log
    for each row execute function audit_log_append_only()`.execute(db);
  await sql`
    create trigger audit_log_no_truncate before truncate on audit_log
    for each statement execute function audit_log_append_only()`.execute(db);
  await sql`
    create function audit_log_purge(cutoff timestamptz) returns bigint language plpgsql as $$
    declare n bigint;
    begin
      perform set_config('tollgate.audit_purge', 'on', true);
      delete from audit_log where created_at < cutoff;
      get diagnostics n = row_count;
      perform set_config('tollgate.audit_purge', 'off', true);
      return n;
    end
    $$`.execute(db);
}
