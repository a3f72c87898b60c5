import { createInterface, type Interface } from 'node:readline';
import { CliError } from './errors.ts';

// Prompts write to stderr: stdout carries only the command's result.
const context = { input: process.stdin, output: process.stderr };

let reader: { rl: Interface; lines: AsyncIterator<string> } | undefined;

/**
 * The next line of a piped stdin. One reader for the whole run: readline reads ahead, so a second
 * interface would miss lines the first had already buffered (`printf 'me@x\npw\n' | tollgate login`).
 */
export async function readStdinLine(what: string): Promise<string> {
  if (!reader) {
    const rl = createInterface({ input: process.stdin, terminal: false });
    reader = { rl, lines: rl[Symbol.asyncIterator]() };
  }
  const next = await reader.lines.next();
  if (next.done) throw new CliError('no_input', `expected ${what} on stdin`);
  return next.value;
}

/** All of stdin (a piped chat prompt). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function closeStdin(): void {
  reader?.rl.close();
  reader = undefined;
}

export async function askText(message: string, defaultValue?: string): Promise<string> {
  if (!process.stdin.isTTY) {
    process.stderr.write(`${message}: `);
    const line = (await readStdinLine(message.toLowerCase())).trim();
    return line || defaultValue || '';
  }
  // Loaded only for a terminal: the prompt library is most of a plain run's start-up time.
  const { default: input } = await import('@inquirer/input');
  return input(
    { message, ...(defaultValue ? { default: defaultValue } : {}), required: !defaultValue },
    context,
  );
}

/** A password: masked on a terminal; from a pipe, the next line as is (nothing echoes there). */
export async function askSecret(message: string): Promise<string> {
  if (!process.stdin.isTTY) {
    process.stderr.write(`${message}: `);
    const line = await readStdinLine(message.toLowerCase());
    process.stderr.write('\n');
    return line;
  }
  const { default: password } = await import('@inquirer/password');
  return password({ message, mask: true }, context);
}
