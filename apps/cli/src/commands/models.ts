import { Option } from '@commander-js/extra-typings';
import type { TollgateClient } from '@tollgate/client';
import { list, positiveInt, price } from '../args.ts';
import { usageError } from '../errors.ts';
import { noteNextCursor, out, printJson, printTable } from '../output.ts';
import type { Root } from '../root.ts';
import { callServer } from '../run.ts';

type Upsert = Parameters<TollgateClient['models']['upsert']['mutate']>[0];
type Model = Awaited<ReturnType<TollgateClient['models']['list']['query']>>['items'][number];

const kinds = ['chat', 'embedding'] as const;

/** The catalog entry named `name`, if any (the catalog pages by name). */
async function findModel(client: TollgateClient, name: string): Promise<Model | undefined> {
  let cursor: string | undefined;
  do {
    const page = await client.models.list.query({ limit: 500, cursor });
    const hit = page.items.find((m) => m.name === name);
    if (hit) return hit;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return undefined;
}

export function registerModels(program: Root): void {
  const models = program.command('models').description('the model catalog (changes: admin only)');

  models
    .command('list')
    .description('list catalog entries')
    .addOption(new Option('--kind <kind>', 'only this kind').choices(kinds))
    .option('--limit <n>', 'how many (max 500)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--json', 'print JSON ({ items, nextCursor })')
    .action(async (opts, cmd) => {
      const page = await callServer(cmd, (c) =>
        c.models.list.query({ limit: opts.limit, cursor: opts.cursor, kind: opts.kind }),
      );
      if (opts.json) return printJson(page);
      printTable(
        [
          'name',
          'kind',
          'provider',
          'upstream',
          '$/M in',
          '$/M out',
          'enabled',
          'aliases',
          'fallbacks',
        ],
        page.items.map((m) => [
          m.name,
          m.kind,
          m.provider,
          m.upstreamModel,
          m.inputPricePerMTok,
          m.outputPricePerMTok,
          m.enabled,
          m.aliases.join(',') || null,
          m.fallbacks.join(',') || null,
        ]),
      );
      noteNextCursor(page.nextCursor);
    });

  models
    .command('set')
    .description(
      'create a catalog entry, or change the given fields of an existing one (the rest are kept)',
    )
    .argument('<name>', 'public model name')
    .option('--provider <provider>', 'provider (mock, openai, anthropic); needed for a new entry')
    .option('--upstream <model>', "the provider's model name; needed for a new entry")
    .addOption(new Option('--kind <kind>', 'chat or embedding (new entries: chat)').choices(kinds))
    .option('--input-price <usd>', '$ per million input tokens ("null": unpriced)', price)
    .option('--output-price <usd>', '$ per million output tokens ("null": unpriced)', price)
    .option('--cached-input-price <usd>', '$ per million cached input tokens', price)
    .option('--cache-write-price <usd>', '$ per million cache-write tokens', price)
    .option('--context-window <tokens>', 'context window', positiveInt)
    .option('--max-output-tokens <tokens>', 'output limit', positiveInt)
    .option(
      '--alias <name...>',
      'aliases (replace the existing ones; repeat or comma-separate)',
      list,
    )
    .option('--fallback <name...>', 'fallback chain, in order (replaces the existing one)', list)
    .addOption(new Option('--disable', 'refuse calls to it').conflicts('enable'))
    .option('--enable', 'accept calls to it')
    .option('--json', 'print the stored entry as JSON')
    .action(async (name, opts, cmd) => {
      const saved = await callServer(cmd, async (c) => {
        const existing = await findModel(c, name);
        const provider = opts.provider ?? existing?.provider;
        const upstreamModel = opts.upstream ?? existing?.upstreamModel;
        if (!provider || !upstreamModel) {
          throw usageError(`${name} is a new model: give --provider and --upstream`);
        }
        const input: Upsert = {
          name,
          provider: provider as Upsert['provider'],
          upstreamModel,
          kind: opts.kind ?? existing?.kind ?? 'chat',
          inputPricePerMTok:
            opts.inputPrice !== undefined ? opts.inputPrice : (existing?.inputPricePerMTok ?? null),
          outputPricePerMTok:
            opts.outputPrice !== undefined
              ? opts.outputPrice
              : (existing?.outputPricePerMTok ?? null),
          cachedInputPricePerMTok:
            opts.cachedInputPrice !== undefined
              ? opts.cachedInputPrice
              : (existing?.cachedInputPricePerMTok ?? null),
          cacheWritePricePerMTok:
            opts.cacheWritePrice !== undefined
              ? opts.cacheWritePrice
              : (existing?.cacheWritePricePerMTok ?? null),
          contextWindow: opts.contextWindow ?? existing?.contextWindow ?? null,
          maxOutputTokens: opts.maxOutputTokens ?? existing?.maxOutputTokens ?? null,
          enabled: opts.disable ? false : opts.enable ? true : (existing?.enabled ?? true),
          aliases: opts.alias ?? existing?.aliases ?? [],
          fallbacks: opts.fallback ?? existing?.fallbacks ?? [],
        };
        return c.models.upsert.mutate(input);
      });
      if (opts.json) return printJson(saved);
      out(
        `${saved.name}: ${saved.kind}, ${saved.provider}/${saved.upstreamModel}, ` +
          `$${saved.inputPricePerMTok ?? '?'}/$${saved.outputPricePerMTok ?? '?'} per M tokens` +
          (saved.enabled ? '' : ', disabled'),
      );
    });

  models
    .command('rm')
    .description('remove a catalog entry')
    .argument('<name>', 'public model name')
    .option('--json', 'print the result as JSON')
    .action(async (name, opts, cmd) => {
      const res = await callServer(cmd, (c) => c.models.delete.mutate({ name }));
      if (opts.json) return printJson(res);
      out(`removed ${res.name}`);
    });
}
