import {
  createFile,
  DomainError,
  deleteFile,
  type FileView,
  getFile,
  getFileContent,
  listFiles,
} from '@tollgate/core';
import type { FastifyInstance } from 'fastify';
import { batchResultContent, batchResultFile, isBatchResultFileId } from './batches.routes.ts';
import type { CompatKit } from './kit.ts';

/** PRODUCT "Bad input": batch uploads may be up to 200 MiB. */
export const FILE_UPLOAD_LIMIT = 200 * 1024 * 1024;

/** Batch input lines may only call what /v1/batches runs. */
const BATCH_URLS = new Set(['/v1/chat/completions']);

function toOpenAIFile(f: FileView) {
  return {
    id: f.id,
    object: 'file' as const,
    bytes: f.bytes,
    created_at: Math.floor(f.createdAt.getTime() / 1000),
    filename: f.filename,
    purpose: f.purpose,
    status: 'processed' as const,
    expires_at: f.expiresAt ? Math.floor(f.expiresAt.getTime() / 1000) : null,
    status_details: null,
  };
}

/**
 * A batch input file as OpenAI checks it at upload: JSONL, one request per line with a unique
 * `custom_id`, `method: POST`, a supported `url` and a `body` naming its `model`.
 */
export function checkBatchJsonl(text: string): void {
  const seen = new Set<string>();
  let count = 0;
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const where = `line ${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new DomainError('bad_request', `${where}: not valid JSON`, { param: 'file' });
    }
    const o = v as { custom_id?: unknown; method?: unknown; url?: unknown; body?: unknown };
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new DomainError('bad_request', `${where}: expected a JSON object`, { param: 'file' });
    if (typeof o.custom_id !== 'string' || o.custom_id === '')
      throw new DomainError('bad_request', `${where}: custom_id must be a non-empty string`, {
        param: 'file',
      });
    if (seen.has(o.custom_id))
      throw new DomainError('bad_request', `${where}: duplicate custom_id '${o.custom_id}'`, {
        param: 'file',
      });
    seen.add(o.custom_id);
    if (o.method !== 'POST')
      throw new DomainError('bad_request', `${where}: method must be POST`, { param: 'file' });
    if (typeof o.url !== 'string' || !BATCH_URLS.has(o.url))
      throw new DomainError('bad_request', `${where}: url must be /v1/chat/completions`, {
        param: 'file',
      });
    const body = o.body as { model?: unknown } | null;
    if (typeof body !== 'object' || body === null || typeof body.model !== 'string')
      throw new DomainError('bad_request', `${where}: body must be an object naming its model`, {
        param: 'file',
      });
    count++;
  }
  if (count === 0)
    throw new DomainError('bad_request', 'the file has no requests', { param: 'file' });
}

/** OpenAI Files: POST /v1/files (multipart, purpose batch), GET list/one/content, DELETE. */
export function registerFilesRoutes(app: FastifyInstance, kit: CompatKit): void {
  const { deps } = kit;

  // The SDK uploads multipart/form-data; the body is taken whole and parsed by the platform's
  // own FormData reader (undici), so no multipart dependency is needed.
  app.addContentTypeParser(
    'multipart/form-data',
    { parseAs: 'buffer', bodyLimit: FILE_UPLOAD_LIMIT },
    (_req, body, done) => done(null, body),
  );

  app.post('/files', { bodyLimit: FILE_UPLOAD_LIMIT }, async (req, reply) => {
    const who = kit.principal(req);
    const type = req.headers['content-type'] ?? '';
    if (!Buffer.isBuffer(req.body) || !type.startsWith('multipart/form-data'))
      throw new DomainError('bad_request', 'expected a multipart/form-data upload', {
        param: 'file',
      });
    let form: FormData;
    try {
      form = await new Response(req.body, { headers: { 'content-type': type } }).formData();
    } catch {
      throw new DomainError('bad_request', 'malformed multipart/form-data body', { param: 'file' });
    }
    const purpose = form.get('purpose');
    const file = form.get('file');
    if (purpose !== 'batch')
      throw new DomainError('bad_request', "purpose must be 'batch'", { param: 'purpose' });
    if (file === null || typeof file === 'string')
      throw new DomainError('bad_request', 'a file part is required', { param: 'file' });
    const content = Buffer.from(await file.arrayBuffer());
    checkBatchJsonl(content.toString('utf8'));
    const created = await createFile(deps, who, {
      purpose,
      filename: file.name || 'upload.jsonl',
      content,
    });
    return reply.send(toOpenAIFile(created));
  });

  app.get<{ Querystring: { purpose?: string; limit?: string } }>('/files', async (req) => {
    const limit = Math.min(Math.max(Number(req.query.limit ?? 100) || 100, 1), 10_000);
    const files = await listFiles(deps, kit.principal(req), {
      purpose: req.query.purpose,
      limit,
    });
    return { object: 'list', data: files.map(toOpenAIFile), has_more: false };
  });

  // A batch's output and error files are generated from its results when read.
  app.get<{ Params: { id: string } }>('/files/:id', async (req) =>
    isBatchResultFileId(req.params.id)
      ? batchResultFile(kit, kit.principal(req), req.params.id)
      : toOpenAIFile(await getFile(deps, kit.principal(req), req.params.id)),
  );

  app.get<{ Params: { id: string } }>('/files/:id/content', async (req, reply) => {
    if (isBatchResultFileId(req.params.id))
      return reply
        .type('application/octet-stream')
        .send(await batchResultContent(kit, kit.principal(req), req.params.id));
    const { content } = await getFileContent(deps, kit.principal(req), req.params.id);
    return reply.type('application/octet-stream').send(content);
  });

  app.delete<{ Params: { id: string } }>('/files/:id', async (req) => {
    await deleteFile(deps, kit.principal(req), req.params.id);
    return { id: req.params.id, object: 'file', deleted: true };
  });
}
