import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { TollgateClient } from '@tollgate/client';
import { positiveInt } from '../args.ts';
import { isFinished, watchBatch } from '../batch-progress.ts';
import { CliError } from '../errors.ts';
import {
  note,
  noteNextCursor,
  out,
  printFields,
  printJson,
  printTable,
  shortTime,
} from '../output.ts';
import type { Root } from '../root.ts';
import { callServer } from '../run.ts';

type Batch = Awaited<ReturnType<TollgateClient['batches']['get']['query']>>;
type Items = Parameters<TollgateClient['batches']['create']['mutate']>[0]['items'];

/**
 * A JSONL file → items, one per non-blank line. Only JSON syntax is checked here, naming the line;
 * the server validates each item (its message names the item's index).
 */
async function readJsonl(file: string): Promise<Items> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new CliError(
      'bad_file',
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`,
    );
  }
  const items: unknown[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    try {
      items.push(JSON.parse(line));
    } catch (e) {
      throw new CliError(
        'bad_file',
        `${file} line ${i + 1}: not valid JSON: ${(e as Error).message}`,
      );
    }
  }
  if (items.length === 0) throw new CliError('bad_file', `${file} has no items`);
  return items as Items;
}

function printBatch(b: Batch): void {
  const c = b.counts;
  printFields([
    ['id', b.id],
    ['status', b.status],
    [
      'items',
      `${c.total}: ${c.succeeded} succeeded, ${c.failed} failed, ${c.cancelled} cancelled, ${c.running} running, ${c.pending} pending`,
    ],
    ['cost $', b.costUsd],
    ['created', b.createdAt],
    ['started', b.startedAt],
    ['finished', b.finishedAt ?? b.cancelledAt],
    ['webhook', b.webhookUrl],
    ...(b.webhookDeliveries.length
      ? ([
          [
            'deliveries',
            b.webhookDeliveries
              .map((d) => `#${d.attempt} ${d.ok ? 'ok' : 'failed'} (${d.statusCode ?? d.error})`)
              .join(', '),
          ],
        ] as [string, string][])
      : []),
  ]);
}

/** Exit status of a watched batch: 0 completed (whatever its items did), 1 failed or cancelled. */
function finishedOk(b: Batch): void {
  if (b.status === 'failed') throw new CliError('batch_failed', `batch ${b.id} failed`);
  if (b.status === 'cancelled')
    throw new CliError('batch_cancelled', `batch ${b.id} was cancelled`);
}

export function registerBatch(program: Root): void {
  const batch = program.command('batch').description('batches of chat calls run in the background');

  batch
    .command('submit')
    .description('submit a JSONL file of chat calls (one {model, messages, ...} per line)')
    .argument('<file>', 'the JSONL file')
    .option('--idempotency-key <key>', 'the same key and file again return the same batch')
    .option('--webhook <url>', 'POSTed (signed) when the batch finishes')
    .option('--watch', 'show progress until the batch finishes')
    .option('--interval <ms>', 'how often --watch polls', positiveInt, 1000)
    .option('--json', 'print the batch as JSON')
    .action(async (file, opts, cmd) => {
      const items = await readJsonl(file);
      const result = await callServer(cmd, async (client, conn) => {
        // The Idempotency-Key header rides on this one call only.
        const withKey = opts.idempotencyKey
          ? conn.withHeaders({ 'idempotency-key': opts.idempotencyKey })
          : client;
        const created = await withKey.batches.create.mutate({
          items,
          ...(opts.webhook ? { webhookUrl: opts.webhook } : {}),
        });
        if (!opts.watch) return created;
        if (!opts.json) note(`submitted batch ${created.id} (${created.counts.total} items)`);
        return watchBatch(client, created, opts.interval);
      });
      if (opts.json) printJson(result);
      else if (opts.watch) printBatch(result);
      else out(result.id);
      if (opts.watch) finishedOk(result);
    });

  batch
    .command('status')
    .description("a batch's status, counts and cost so far")
    .argument('<id>', 'batch id')
    .option('--watch', 'show progress until the batch finishes')
    .option('--interval <ms>', 'how often --watch polls', positiveInt, 1000)
    .option('--json', 'print JSON')
    .action(async (id, opts, cmd) => {
      const b = await callServer(cmd, async (client) => {
        const first = await client.batches.get.query({ id });
        return opts.watch ? watchBatch(client, first, opts.interval) : first;
      });
      if (opts.json) printJson(b);
      else printBatch(b);
      if (opts.watch) finishedOk(b);
    });

  batch
    .command('list')
    .description('your batches (an admin: all), newest first')
    .option('--limit <n>', 'how many (max 500)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--json', 'print JSON ({ items, nextCursor })')
    .action(async (opts, cmd) => {
      const page = await callServer(cmd, (c) =>
        c.batches.list.query({ limit: opts.limit ?? 50, cursor: opts.cursor }),
      );
      if (opts.json) return printJson(page);
      printTable(
        ['id', 'status', 'total', 'succeeded', 'failed', 'cancelled', 'cost $', 'created'],
        page.items.map((b) => [
          b.id,
          b.status,
          b.counts.total,
          b.counts.succeeded,
          b.counts.failed,
          b.counts.cancelled,
          b.costUsd,
          shortTime(b.createdAt),
        ]),
      );
      noteNextCursor(page.nextCursor);
    });

  batch
    .command('cancel')
    .description('cancel pending items (running ones finish and are billed)')
    .argument('<id>', 'batch id')
    .option('--json', 'print the batch as JSON')
    .action(async (id, opts, cmd) => {
      const b = await callServer(cmd, (c) => c.batches.cancel.mutate({ id }));
      if (opts.json) return printJson(b);
      out(`batch ${b.id}: ${b.status}`);
    });

  batch
    .command('results')
    .description('results as JSONL in input order, streamed page by page (finished items only)')
    .argument('<id>', 'batch id')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .action(async (id, opts, cmd) => {
      const dest = opts.output ? createWriteStream(opts.output) : process.stdout;
      const write = async (line: string) => {
        if (!dest.write(line)) await once(dest, 'drain');
      };
      const { lines, b } = await callServer(cmd, async (c) => {
        let cursor: string | undefined;
        let count = 0;
        do {
          const page = await c.batches.results.query({ id, limit: 1000, cursor });
          for (const item of page.items) await write(`${JSON.stringify(item)}\n`);
          count += page.items.length;
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        return { lines: count, b: await c.batches.get.query({ id }) };
      });
      if (opts.output) {
        const file = dest as ReturnType<typeof createWriteStream>;
        file.end();
        await once(file, 'finish');
        note(`wrote ${lines} results to ${opts.output}`);
      }
      if (!isFinished(b))
        note(`batch ${b.id} is ${b.status}: ${lines} of ${b.counts.total} results so far`);
    });
}
