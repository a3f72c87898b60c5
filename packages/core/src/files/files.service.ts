import { randomBytes } from 'node:crypto';
import type { DB } from '@tollgate/db';
import type { Kysely } from 'kysely';
import type { UserPrincipal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';

type FileDeps = Pick<Deps, 'db'>;

/** An OpenAI File's metadata (the content is read apart). */
export type FileView = {
  id: string;
  purpose: string;
  filename: string;
  bytes: number;
  createdAt: Date;
};

function toFileView(r: {
  id: string;
  purpose: string;
  filename: string;
  bytes: string;
  created_at: Date;
}): FileView {
  return {
    id: r.id,
    purpose: r.purpose,
    filename: r.filename,
    bytes: Number(r.bytes),
    createdAt: r.created_at,
  };
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
  return toFileView(row);
}

/** The caller's file; someone else's id is `not_found`, exactly as a missing one. */
export async function getFile(deps: FileDeps, who: UserPrincipal, id: string): Promise<FileView> {
  const row = await deps.db
    .selectFrom('files')
    .select(['id', 'purpose', 'filename', 'bytes', 'created_at'])
    .where('id', '=', id)
    .where('user_id', '=', who.userId)
    .executeTakeFirst();
  if (!row) throw new DomainError('not_found', `file '${id}' not found`);
  return toFileView(row);
}

/** The caller's file content. */
export async function getFileContent(
  deps: FileDeps,
  who: UserPrincipal,
  id: string,
): Promise<{ file: FileView; content: Buffer }> {
  const row = await deps.db
    .selectFrom('files')
    .selectAll()
    .where('id', '=', id)
    .where('user_id', '=', who.userId)
    .executeTakeFirst();
  if (!row) throw new DomainError('not_found', `file '${id}' not found`);
  return { file: toFileView(row), content: row.content };
}

/** The caller's files, newest first. */
export async function listFiles(
  deps: FileDeps,
  who: UserPrincipal,
  opts: { purpose?: string | undefined; limit: number },
): Promise<FileView[]> {
  let q = deps.db
    .selectFrom('files')
    .select(['id', 'purpose', 'filename', 'bytes', 'created_at'])
    .where('user_id', '=', who.userId);
  if (opts.purpose !== undefined) q = q.where('purpose', '=', opts.purpose);
  const rows = await q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(opts.limit)
    .execute();
  return rows.map(toFileView);
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
