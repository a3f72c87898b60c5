import { randomUUID } from 'node:crypto';
import type { TollgateClient } from '@tollgate/client';
import { decimal, positiveInt } from '../args.ts';
import { CliError, exitCodes, usageError } from '../errors.ts';
import { note } from '../output.ts';
import { readStdin } from '../prompt.ts';
import type { Root } from '../root.ts';
import { callServer } from '../run.ts';

type StreamInput = Parameters<TollgateClient['chat']['stream']['subscribe']>[0];

/**
 * Runs one chat.stream subscription, writing each delta to stdout as it arrives. Settles when the
 * stream ends; an in-band error event or a refused call rejects; Ctrl-C unsubscribes (which closes
 * the SSE request, and the server aborts the upstream call) and rejects as interrupted.
 */
function streamChat(client: TollgateClient, input: Omit<StreamInput, 'requestId'>): Promise<void> {
  return new Promise((resolve, reject) => {
    let endsWithNewline = true;
    let printed = false;
    const write = (text: string) => {
      if (!text) return;
      process.stdout.write(text);
      printed = true;
      endsWithNewline = text.endsWith('\n');
    };
    const finishLine = () => {
      if (printed && !endsWithNewline) process.stdout.write('\n');
    };
    let done = false;
    const settle = (err?: unknown) => {
      if (done) return;
      done = true;
      process.off('SIGINT', onSigint);
      queueMicrotask(() => sub.unsubscribe());
      finishLine();
      if (err === undefined) resolve();
      else reject(err);
    };
    const onSigint = () => {
      settle(new CliError('interrupted', 'cancelled', exitCodes.interrupted));
    };
    process.on('SIGINT', onSigint);
    // A fresh id per attempt: the server refuses to start a second upstream call for an id it has
    // seen, which is what protects against the link's reconnects, not against a deliberate retry.
    const sub = client.chat.stream.subscribe(
      { ...input, requestId: randomUUID() },
      {
        onData: (ev) => {
          if (ev.type === 'delta') write(ev.content ?? '');
          else if (ev.type === 'finish' && ev.finishReason === 'length') {
            finishLine();
            endsWithNewline = true;
            note('(stopped at the max-tokens limit)');
          } else if (ev.type === 'error') settle(new CliError(ev.code, ev.message));
        },
        onError: (err) => settle(err),
        onComplete: () => settle(),
      },
    );
  });
}

export function registerChat(program: Root): void {
  program
    .command('chat')
    .description('send a prompt to a model and print the answer as it streams')
    .argument('[prompt...]', 'the prompt (read from stdin when not given)')
    .requiredOption('-m, --model <model>', 'model name or alias (see `tollgate models list`)')
    .option('-s, --system <text>', 'a system message before the prompt')
    .option('--max-tokens <n>', 'longest answer in tokens', positiveInt)
    .option('-t, --temperature <t>', 'sampling temperature (0-2)', decimal)
    .action(async (words, opts, cmd) => {
      let prompt = words.join(' ');
      if (!prompt) {
        if (process.stdin.isTTY) throw usageError('give a prompt, or pipe one on stdin');
        prompt = (await readStdin()).replace(/\n$/, '');
        if (!prompt.trim()) throw usageError('the prompt on stdin is empty');
      }
      const input: Omit<StreamInput, 'requestId'> = {
        model: opts.model,
        messages: [
          ...(opts.system ? [{ role: 'system' as const, content: opts.system }] : []),
          { role: 'user' as const, content: prompt },
        ],
        ...(opts.maxTokens !== undefined ? { max_tokens: opts.maxTokens } : {}),
        ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
      };
      await callServer(cmd, (client) => streamChat(client, input));
    });
}
