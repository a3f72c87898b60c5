import { z } from 'zod';
import { ChatInput, ChatResult } from './chat.schemas.ts';

/** PRODUCT "Background work": at most 50,000 items per batch. */
export const MAX_ITEMS = 50_000;

/** One item: a chat call (chat.complete's input) and the caller's optional `customId`. */
export const BatchItem = ChatInput.omit({ stream: true }).extend({
  customId: z.string().min(1).max(256).optional(),
});
export type BatchItem = z.infer<typeof BatchItem>;

export const WebhookUrl = z.string().min(1).max(2048);

export const BatchCreateInput = z.object({
  items: z.array(BatchItem).min(1).max(MAX_ITEMS),
  webhookUrl: WebhookUrl.optional(),
});

const Counts = z.object({
  total: z.number().int(),
  pending: z.number().int(),
  running: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
});

export const BatchView = z.object({
  id: z.string(),
  userId: z.string(),
  status: z.enum(['queued', 'running', 'completed', 'cancelled', 'failed']),
  counts: Counts,
  /** Exact decimal string: what the batch's request-log rows cost so far. */
  costUsd: z.string(),
  webhookUrl: z.string().nullable(),
  createdAt: z.iso.datetime(),
  startedAt: z.iso.datetime().nullable(),
  cancelledAt: z.iso.datetime().nullable(),
  finishedAt: z.iso.datetime().nullable(),
});

export const BatchDetail = BatchView.extend({
  webhookDeliveries: z.array(
    z.object({
      attempt: z.number().int(),
      statusCode: z.number().int().nullable(),
      ok: z.boolean(),
      error: z.string().nullable(),
      durationMs: z.number().int(),
      createdAt: z.iso.datetime(),
    }),
  ),
});

export const BatchPage = z.object({ items: z.array(BatchView), nextCursor: z.string().nullable() });

export const BatchListInput = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(64).optional(),
});

export const BatchIdInput = z.object({ id: z.string().min(1).max(64) });

export const BatchResultLine = z.object({
  index: z.number().int(),
  customId: z.string().nullable(),
  status: z.enum(['succeeded', 'failed', 'cancelled']),
  response: ChatResult.optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  requestId: z.string().nullable(),
});

export const BatchResultsInput = BatchIdInput.extend({
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
  /** The last index of the previous page. */
  cursor: z.string().max(16).optional(),
});

export const BatchResultsPage = z.object({
  items: z.array(BatchResultLine),
  nextCursor: z.string().nullable(),
});

export const WebhookSecret = z.object({ secret: z.string() });

/**
 * A JSONL batch body → items, validating every line before anything is written; the first bad
 * line is named (1-based line, 0-based item index). Blank lines are skipped.
 */
export function parseBatchJsonl(
  text: string,
): { items: BatchItem[]; lines: number[] } | { error: string } {
  const items: BatchItem[] = [];
  /** The line of each item (blank lines make them differ from index + 1). */
  const lines: number[] = [];
  let line = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    line++;
    const raw = text.slice(start, end).trim();
    start = end + 1;
    if (raw === '') continue;
    if (items.length >= MAX_ITEMS) {
      return { error: `line ${line}: a batch holds at most ${MAX_ITEMS} items` };
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      return {
        error: `line ${line} (item ${items.length}): not valid JSON: ${(e as Error).message}`,
      };
    }
    const r = BatchItem.safeParse(value);
    if (!r.success) {
      const issue = r.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      return {
        error: `line ${line} (item ${items.length}): ${where}${issue?.message ?? 'invalid'}`,
      };
    }
    items.push(r.data);
    lines.push(line);
  }
  if (items.length === 0) return { error: 'the body has no items' };
  return { items, lines };
}
