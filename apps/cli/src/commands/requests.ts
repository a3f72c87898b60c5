import { Option } from '@commander-js/extra-typings';
import { isoTime, positiveInt } from '../args.ts';
import { noteNextCursor, out, printFields, printJson, printTable, shortTime } from '../output.ts';
import type { Root } from '../root.ts';
import { callServer } from '../run.ts';

const statuses = ['ok', 'error', 'aborted', 'rejected'] as const;

export function registerRequests(program: Root): void {
  const requests = program
    .command('requests')
    .description("the request log (your own calls; an admin: everyone's)");

  requests
    .command('list')
    .description('list logged calls, newest first')
    .option('--model <model>', 'only this model')
    .addOption(new Option('--status <status>', 'only this outcome').choices(statuses))
    .option('--from <time>', 'from this time (ISO-8601)', isoTime)
    .option('--to <time>', 'until this time (ISO-8601)', isoTime)
    .option('--limit <n>', 'how many (max 500)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--json', 'print JSON ({ items, nextCursor })')
    .action(async (opts, cmd) => {
      const page = await callServer(cmd, (c) =>
        c.requests.list.query({
          limit: opts.limit ?? 50,
          cursor: opts.cursor,
          model: opts.model,
          status: opts.status,
          from: opts.from,
          to: opts.to,
        }),
      );
      if (opts.json) return printJson(page);
      printTable(
        [
          'time',
          'request id',
          'model',
          'status',
          'tokens in/out',
          'cost $',
          'latency ms',
          'surface',
        ],
        page.items.map((r) => [
          shortTime(r.createdAt),
          r.requestId,
          r.model,
          r.errorCode ? `${r.status} (${r.errorCode})` : r.status,
          `${r.inputTokens}/${r.outputTokens}`,
          r.costUsd,
          r.latencyMs,
          r.surface,
        ]),
      );
      noteNextCursor(page.nextCursor);
    });

  requests
    .command('show')
    .description('one logged call with its bodies, by row id or request id')
    .argument('<id>', 'row id or request id')
    .option('--json', 'print JSON')
    .action(async (id, opts, cmd) => {
      const r = await callServer(cmd, (c) => c.requests.get.query({ id }));
      if (opts.json) return printJson(r);
      printFields([
        ['id', r.id],
        ['request id', r.requestId],
        ['time', r.createdAt],
        ['model', `${r.model} (${r.provider}/${r.upstreamModel})`],
        ['status', r.errorCode ? `${r.status} (${r.errorCode})` : r.status],
        ['surface', r.surface],
        ['user', r.userId],
        ['key', r.keyId],
        ['latency ms', r.latencyMs],
        ['ttft ms', r.ttftMs],
        [
          'tokens',
          `${r.inputTokens} in (${r.cachedInputTokens} cached, ${r.cacheWriteTokens} cache write), ` +
            `${r.outputTokens} out (${r.reasoningTokens} reasoning)` +
            (r.usageEstimated ? ', estimated' : ''),
        ],
        ['cost $', r.costUsd ?? 'unpriced'],
        ['cache hit', r.cacheHit],
      ]);
      if (r.bodies) {
        out();
        out('request body:');
        out(JSON.stringify(r.bodies.request, null, 2));
        out('response body:');
        out(JSON.stringify(r.bodies.response, null, 2));
      }
    });
}
