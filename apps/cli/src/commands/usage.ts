import { Option } from '@commander-js/extra-typings';
import { usageError } from '../errors.ts';
import { printJson, printTable } from '../output.ts';
import type { Root } from '../root.ts';
import { callServer } from '../run.ts';

const groups = ['hour', 'day', 'model', 'key', 'user', 'team'] as const;

/** YYYY-MM-DD of `date` in time zone `tz`. */
function dayIn(tz: string, date: Date): string {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone: tz, dateStyle: 'short' }).format(date);
  } catch {
    throw usageError(`--tz: unknown time zone ${tz} (expected an IANA name such as Europe/Berlin)`);
  }
}

export function registerUsage(program: Root): void {
  program
    .command('usage')
    .description(
      'usage totals over a range, grouped by hour, day, model, key, user or team (own calls unless admin)',
    )
    .option(
      '--from <date>',
      'start: YYYY-MM-DD (midnight in --tz) or an ISO date-time (default: 6 days ago)',
    )
    .option(
      '--to <date>',
      'end: YYYY-MM-DD (that whole day included) or an ISO date-time (default: today)',
    )
    .addOption(
      new Option('--group-by <what>', 'how to group').choices(groups).default('day' as const),
    )
    .option('--tz <zone>', 'IANA time zone for hours and days', 'UTC')
    .option('--csv', "print CSV (the server's export)")
    .option('--json', 'print JSON')
    .action(async (opts, cmd) => {
      const now = new Date();
      const input = {
        from: opts.from ?? dayIn(opts.tz, new Date(now.getTime() - 6 * 86_400_000)),
        to: opts.to ?? dayIn(opts.tz, now),
        groupBy: opts.groupBy,
        tz: opts.tz,
      };
      if (opts.csv) {
        const { csv } = await callServer(cmd, (c) => c.usage.export.query(input));
        process.stdout.write(csv);
        return;
      }
      const summary = await callServer(cmd, (c) => c.usage.summary.query(input));
      if (opts.json) return printJson(summary);
      const row = (group: string, t: (typeof summary)['totals']) => [
        group,
        t.requests,
        t.errors,
        t.rejected,
        t.cacheHits,
        t.inputTokens,
        t.outputTokens,
        t.costUsd,
      ];
      printTable(
        [
          opts.groupBy,
          'requests',
          'errors',
          'rejected',
          'cache hits',
          'tokens in',
          'tokens out',
          'cost $',
        ],
        [...summary.items.map((i) => row(i.group || '(no key)', i)), row('total', summary.totals)],
      );
    });
}
