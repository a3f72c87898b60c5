import { CommanderError } from '@commander-js/extra-typings';
import { CliError, exitCodes, printError } from './errors.ts';
import { buildProgram } from './program.ts';
import { closeStdin } from './prompt.ts';

// `tollgate …`: exit 0 on success, 1 when the command failed (the server's code and message on
// stderr), 2 for bad usage (commander has already said what was wrong), 130 after Ctrl-C.
async function main(argv: string[]): Promise<number> {
  // `tollgate … | head` closing the pipe early is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(exitCodes.ok);
    throw e;
  });
  try {
    await buildProgram().parseAsync(argv);
    return exitCodes.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end this way too, with exitCode 0.
      return e.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    }
    if (isPromptCancelled(e)) return exitCodes.interrupted;
    if (e instanceof CliError && e.exitCode === exitCodes.interrupted) {
      process.stderr.write(`${e.message}\n`);
      return e.exitCode;
    }
    printError(e);
    return e instanceof CliError ? e.exitCode : exitCodes.error;
  } finally {
    closeStdin();
  }
}

/** Inquirer rejects with ExitPromptError when Ctrl-C ends a prompt. */
function isPromptCancelled(e: unknown): boolean {
  return e instanceof Error && e.name === 'ExitPromptError';
}

// Exit explicitly: an idle keep-alive socket or a paused stdin must not hold the process open.
process.exit(await main(process.argv));
