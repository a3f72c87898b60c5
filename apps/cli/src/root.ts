import { Command, Option } from '@commander-js/extra-typings';
import pkg from '../package.json' with { type: 'json' };
import { paint } from './output.ts';

/**
 * The `tollgate` command with its global options. Subcommands are made with `.command()` (not
 * addCommand) so they inherit exitOverride and the output settings: main.ts decides exit codes.
 */
export function createRoot() {
  return new Command('tollgate')
    .description(
      'Tollgate from the command line: log in, manage keys, users, models and budgets, chat, usage',
    )
    .version(pkg.version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .addOption(
      new Option('--url <url>', 'Tollgate server URL (default: the one you logged in to)').env(
        'TOLLGATE_URL',
      ),
    )
    .addOption(
      new Option(
        '--api-key <key>',
        'authenticate with this API key instead of the stored login',
      ).env('TOLLGATE_API_KEY'),
    )
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      outputError: (text, write) => write(paint(process.stderr, 'red', text)),
    })
    .showSuggestionAfterError(true);
}

export type Root = ReturnType<typeof createRoot>;
