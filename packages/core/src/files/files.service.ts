import { randomBytes } from 'node:crypto';
import type { DB } from '@tollgate/db';
import type { Kysely } from 'kysely';
import type { UserPrincipal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';
import { expiresAt, retentionCutoff } from '../retention/stored-objects.ts';

type FileDeps = Pick<Deps, 'db' | 'clock' | 'config'>;

/** An OpenAI File's metadata (the content is read apart). */
export type FileView = {
  id: string;
  purpose: string;
  filename: string;
  bytes: number;
  createdAt: Date;
  /** When FILES_RETENTION_DAYS removes it; null when files are kept until deleted. */
  expiresAt: Date | null;
};

function toFileView(
  deps: FileDeps,
  r: {
    id: string;
    purpose: string;
    filename: string;
    bytes: string;
    created_at: Date;
  },
): FileView {
  return {
    id: r.id,
    purpose: r.purpose,
    filename: r.filename,
    bytes: Number(r.bytes),
    createdAt: r.created_at,
    expiresAt: expiresAt(r.created_at, deps.config.filesRetentionDays),
  };
}

/**
 * The caller's files that have not expired: one uploaded before FILES_RETENTION_DAYS is hidden
 * at once, before the purge job deletes it.
 */
function liveFiles(deps: FileDeps, who: UserPrincipal) {
  const q = deps.db.selectFrom('files').where('user_id', '=', who.userId);
  const cutoff = retentionCutoff(deps, deps.config.filesRetentionDays);
  return cutoff ? q.where('created_at', '>=', cutoff) : q;
}

/** OpenAI's id form (`file-` + 24 alphanumerics). */
export function newFileId(): string {
  return `file-${randomBytes(18).toString('base64url').replace(/[-_]/g, '').slice(0, 24)}`;
}

/** Stores an uploaded file for its owner. */
export async function createFile(
  deps: FileDeps,
  who: UserPrincipal,
  f: { purpose: string; filename: string; content: Buffer },
  db: Kysely<DB> = deps.db,
): Promise<FileView> {
  const row = await db
    .insertInto('files')
    .values({
      id: newFileId(),
      user_id: who.userId,
      purpose: f.purpose,
      filename: f.filename,
      bytes: f.content.length,
      content: f.content,
    })
    .returning(['id', 'purpose', 'filename', 'bytes', 'created_at'])
    .executeTakeFirstOrThrow();
  return toFileView(deps, row);
}

/**
 * The caller's file; someone else's id is `not_found`, exactly as a missing one, and so is an
 * expired one (even before the purge job has deleted it).
 */
export async function getFile(deps: FileDeps, who: UserPrincipal, id: string): Promise<FileView> {
  const row = await liveFiles(deps, who)
    .select(['id', 'purpose', 'filename', 'bytes', 'created_at'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw new DomainError('not_found', `file '${id}' not found`);
  return toFileView(deps, row);
}

/** The caller's file content. */
export async function getFileContent(
  deps: FileDeps,
  who: UserPrincipal,
  id: string,
): Promise<{ file: FileView; content: Buffer }> {
  const row = await liveFiles(deps, who).selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new DomainError('not_found', `file '${id}' not found`);
  return { file: toFileView(deps, row), content: row.content };
}

/** The caller's files, newest first. */
export async function listFiles(
  deps: FileDeps,
  who: UserPrincipal,
  opts: { purpose?: string | undefined; limit: number },
): Promise<FileView[]> {
  let q = liveFiles(deps, who).select(['id', 'purpose', 'filename', 'bytes', 'created_at']);
  if (opts.purpose !== undefined) q = q.where('purpose', '=', opts.purpose);
  const rows = await q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(opts.limit)
    .execute();
  return rows.map((r) => toFileView(deps, r));
}

/** Deletes the caller's file. */
export async function deleteFile(deps: FileDeps, who: UserPrincipal, id: string): Promise<void> {
  const r = await deps.db
    .deleteFrom('files')
    .where('id', '=', id)
    .where('user_id', '=', who.userId)
    .executeTakeFirst();
  if (r.numDeletedRows === 0n) throw new DomainError('not_found', `file '${id}' not found`);
}
