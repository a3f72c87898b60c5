import { Option } from '@commander-js/extra-typings';
import { isoTime, positiveInt } from '../args.ts';
import { note, noteNextCursor, out, printJson, printTable, shortTime } from '../output.ts';
import type { Root } from '../root.ts';
import { callServer } from '../run.ts';

const scopes = ['gateway', 'batches', 'read', 'admin'] as const;

export function registerKeys(program: Root): void {
  const keys = program.command('keys').description("your API keys (an admin: everyone's)");

  keys
    .command('list')
    .description('list API keys, newest first (only a short prefix of each secret is shown)')
    .option('--limit <n>', 'how many (max 500)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--json', 'print JSON ({ items, nextCursor })')
    .action(async (opts, cmd) => {
      const page = await callServer(cmd, (c) =>
        c.keys.list.query({ limit: opts.limit, cursor: opts.cursor }),
      );
      if (opts.json) return printJson(page);
      printTable(
        ['id', 'name', 'prefix', 'scopes', 'expires', 'last used', 'revoked', 'created'],
        page.items.map((k) => [
          k.id,
          k.name,
          k.prefix,
          k.scopes.join(','),
          shortTime(k.expiresAt),
          shortTime(k.lastUsedAt),
          shortTime(k.revokedAt),
          shortTime(k.createdAt),
        ]),
      );
      noteNextCursor(page.nextCursor);
    });

  keys
    .command('create')
    .description('create an API key; its secret is printed once, alone on stdout')
    .requiredOption('--name <name>', 'a name to recognise it by')
    .addOption(
      new Option('--scope <scope...>', 'scopes (default: gateway batches read)').choices(scopes),
    )
    .option('--expires-at <time>', 'expiry (ISO-8601)', isoTime)
    .option('--rpm <n>', 'requests-per-minute limit', positiveInt)
    .option('--tpm <n>', 'tokens-per-minute limit', positiveInt)
    .option('--json', 'print the created key as JSON (secret included)')
    .action(async (opts, cmd) => {
      const created = await callServer(cmd, (c) =>
        c.keys.create.mutate({
          name: opts.name,
          ...(opts.scope ? { scopes: opts.scope } : {}),
          ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}),
          ...(opts.rpm ? { rpmLimit: opts.rpm } : {}),
          ...(opts.tpm ? { tpmLimit: opts.tpm } : {}),
        }),
      );
      if (opts.json) return printJson(created);
      note(
        `created key "${created.name}" (${created.id}, scopes ${created.scopes.join(',')}); ` +
          'the secret below is shown once:',
      );
      out(created.key);
    });

  keys
    .command('revoke')
    .description('revoke an API key (refused everywhere within a second)')
    .argument('<id>', 'the key id (see `tollgate keys list`)')
    .option('--json', 'print the revoked key as JSON')
    .action(async (id, opts, cmd) => {
      const key = await callServer(cmd, (c) => c.keys.revoke.mutate({ id }));
      if (opts.json) return printJson(key);
      out(`revoked key "${key.name}" (${key.id})`);
    });
}
