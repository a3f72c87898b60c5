import { Option } from '@commander-js/extra-typings';
import { positiveInt } from '../args.ts';
import { usageError } from '../errors.ts';
import { note, noteNextCursor, out, printJson, printTable, shortTime } from '../output.ts';
import { readStdinLine } from '../prompt.ts';
import type { Root } from '../root.ts';
import { callServer } from '../run.ts';

const roles = ['admin', 'member'] as const;

const passwordStdin = () =>
  new Option('--password-stdin', 'read the password from the first line of stdin');

async function passwordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) throw usageError('--password-stdin needs the password piped on stdin');
  return readStdinLine('a password');
}

export function registerUsers(program: Root): void {
  const users = program.command('users').description('user accounts (admin only)');

  users
    .command('list')
    .description('list users, newest first')
    .option('--limit <n>', 'how many (max 500)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--json', 'print JSON ({ items, nextCursor })')
    .action(async (opts, cmd) => {
      const page = await callServer(cmd, (c) =>
        c.users.list.query({ limit: opts.limit, cursor: opts.cursor }),
      );
      if (opts.json) return printJson(page);
      printTable(
        ['id', 'email', 'role', 'disabled', 'created'],
        page.items.map((u) => [u.id, u.email, u.role, u.disabled, shortTime(u.createdAt)]),
      );
      noteNextCursor(page.nextCursor);
    });

  users
    .command('create')
    .description('create a user; without --password-stdin a generated password is printed once')
    .requiredOption('--email <email>', 'their email')
    .addOption(new Option('--role <role>', 'their role').choices(roles).default('member' as const))
    .addOption(passwordStdin())
    .option('--json', 'print the created user as JSON')
    .action(async (opts, cmd) => {
      const password = opts.passwordStdin ? await passwordFromStdin() : undefined;
      const user = await callServer(cmd, (c) =>
        c.users.create.mutate({
          email: opts.email,
          role: opts.role,
          ...(password ? { password } : {}),
        }),
      );
      if (opts.json) return printJson(user);
      out(`created ${user.role} ${user.email} (${user.id})`);
      if (user.password) {
        note('generated password, shown once:');
        out(user.password);
      }
    });

  users
    .command('update')
    .description("change a user's role, disable or enable them, or set their password")
    .argument('<id>', 'the user id (see `tollgate users list`)')
    .addOption(new Option('--role <role>', 'new role').choices(roles))
    .addOption(
      new Option('--disable', 'disable (revokes their sessions and keys)').conflicts('enable'),
    )
    .option('--enable', 'enable again')
    .addOption(passwordStdin())
    .option('--json', 'print the updated user as JSON')
    .action(async (id, opts, cmd) => {
      const password = opts.passwordStdin ? await passwordFromStdin() : undefined;
      const changes = {
        ...(opts.role ? { role: opts.role } : {}),
        ...(opts.disable ? { disabled: true } : opts.enable ? { disabled: false } : {}),
        ...(password ? { password } : {}),
      };
      if (Object.keys(changes).length === 0) {
        throw usageError('nothing to change: give --role, --disable, --enable or --password-stdin');
      }
      const user = await callServer(cmd, (c) => c.users.update.mutate({ id, ...changes }));
      if (opts.json) return printJson(user);
      out(
        `updated ${user.email}: ${user.role}${user.disabled ? ', disabled' : ''}` +
          (password ? ', password changed' : ''),
      );
    });
}
