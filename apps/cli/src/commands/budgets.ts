import { Option } from '@commander-js/extra-typings';
import { positiveInt } from '../args.ts';
import { usageError } from '../errors.ts';
import { noteNextCursor, out, printJson, printTable, shortTime } from '../output.ts';
import type { Root } from '../root.ts';
import { callServer } from '../run.ts';

export function registerBudgets(program: Root): void {
  const budgets = program.command('budgets').description('USD budgets per key, user or team');

  budgets
    .command('set')
    .description('set the budget of a key, user or team for a UTC day or month (admin)')
    .option('--key <id>', 'an API key id')
    .option('--user <id>', 'a user id')
    .option('--team <id>', 'a team id')
    .addOption(
      new Option('--period <period>', 'day or month')
        .choices(['day', 'month'] as const)
        .makeOptionMandatory(),
    )
    .requiredOption('--amount <usd>', 'the amount in USD, e.g. 25 or 12.50')
    .option('--json', 'print the budget as JSON')
    .action(async (opts, cmd) => {
      const targets = [
        ['key', opts.key],
        ['user', opts.user],
        ['team', opts.team],
      ] as const;
      const given = targets.filter(([, id]) => id !== undefined);
      if (given.length !== 1) throw usageError('give exactly one of --key, --user or --team');
      const [scope, targetId] = given[0] as ['key' | 'user' | 'team', string];
      if (!/^\d{1,10}(\.\d{1,10})?$/.test(opts.amount)) {
        throw usageError(`--amount: expected a decimal such as 12.50, got ${opts.amount}`);
      }
      const b = await callServer(cmd, (c) =>
        c.budgets.set.mutate({ scope, targetId, period: opts.period, amountUsd: opts.amount }),
      );
      if (opts.json) return printJson(b);
      out(
        `${b.scope} ${b.targetId}: $${b.amountUsd} per ${b.period} ($${b.remainingUsd} left until ${b.resetsAt})`,
      );
    });

  budgets
    .command('list')
    .description("budgets with this period's spend (yours; an admin: all)")
    .option('--limit <n>', 'how many (max 500)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--json', 'print JSON ({ items, nextCursor })')
    .action(async (opts, cmd) => {
      const page = await callServer(cmd, (c) =>
        c.budgets.list.query({ limit: opts.limit, cursor: opts.cursor }),
      );
      if (opts.json) return printJson(page);
      printTable(
        ['scope', 'target', 'period', 'amount $', 'spent $', 'reserved $', 'remaining $', 'resets'],
        page.items.map((b) => [
          b.scope,
          b.targetId,
          b.period,
          b.amountUsd,
          b.spentUsd,
          b.reservedUsd,
          b.remainingUsd,
          shortTime(b.resetsAt),
        ]),
      );
      noteNextCursor(page.nextCursor);
    });
}
