import type { TollgateClient } from '@tollgate/client';
import { SingleBar } from 'cli-progress';

// Payload keys must not shadow cli-progress's own tokens (its {eta} would print INF before any
// progress): hence timeLeft.
import { CliError, exitCodes } from './errors.ts';
import { paint } from './output.ts';

type Batch = Awaited<ReturnType<TollgateClient['batches']['get']['query']>>;

const terminal = new Set(['completed', 'cancelled', 'failed']);
export const isFinished = (b: Batch) => terminal.has(b.status);
const doneCount = (b: Batch) => b.counts.succeeded + b.counts.failed + b.counts.cancelled;

/** Items per second over the last few polls (a sliding window, so a slow start fades out). */
function rateMeter(windowMs = 10_000) {
  const samples: { t: number; done: number }[] = [];
  return (done: number, t = Date.now()): number | null => {
    samples.push({ t, done });
    while (samples.length > 2 && t - (samples[0]?.t ?? t) > windowMs) samples.shift();
    const first = samples[0];
    if (!first || t === first.t) return null;
    return ((done - first.done) * 1000) / (t - first.t);
  };
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

type Stats = {
  done: number;
  total: number;
  rate: string;
  timeLeft: string;
  cost: string;
  ok: number;
  failed: number;
};

function stats(b: Batch, rate: number | null): Stats {
  const done = doneCount(b);
  const left = b.counts.total - done;
  return {
    done,
    total: b.counts.total,
    ok: b.counts.succeeded,
    failed: b.counts.failed,
    rate: rate === null ? '?' : rate.toFixed(1),
    timeLeft: left === 0 ? '0s' : rate ? formatDuration(left / rate) : '?',
    cost: `$${b.costUsd}`,
  };
}

const plainLine = (b: Batch, s: Stats) =>
  `batch ${b.id} ${b.status}: ${s.done}/${s.total} done (${s.ok} succeeded, ${s.failed} failed), ` +
  `${s.rate} items/s, ETA ${s.timeLeft}, cost ${s.cost}`;

/**
 * Polls a batch until it finishes, showing progress on stderr: a live bar (cli-progress) when
 * stdout and stderr are terminals, one plain line per change otherwise. Ctrl-C stops watching only
 * (the batch goes on) and exits 130.
 */
export async function watchBatch(
  client: TollgateClient,
  first: Batch,
  intervalMs = 1000,
): Promise<Batch> {
  const live = process.stdout.isTTY === true && process.stderr.isTTY === true;
  const meter = rateMeter();
  let batch = first;
  let s = stats(batch, meter(doneCount(batch)));
  const bar = live
    ? new SingleBar({
        stream: process.stderr,
        format:
          `${paint(process.stderr, 'cyan', '{bar}')} {percentage}% | {value}/{total} done` +
          ' ({ok} ok, {failed} failed) | {rate}/s | ETA {timeLeft} | {cost}',
        barCompleteChar: '█',
        barIncompleteChar: '░',
        hideCursor: true,
        clearOnComplete: false,
        // Redraw on every update, not only on the timer: each poll is a real change.
        forceRedraw: true,
        fps: 5,
      })
    : null;
  let lastLine = '';
  const show = () => {
    if (bar) {
      bar.update(s.done, s);
      return;
    }
    const line = plainLine(batch, s);
    if (line !== lastLine) process.stderr.write(`${line}\n`);
    lastLine = line;
  };
  bar?.start(s.total, s.done, s);
  show();

  let stop: (() => void) | undefined;
  const interrupted = new Promise<'interrupted'>((resolve) => {
    stop = () => resolve('interrupted');
    process.once('SIGINT', stop);
  });
  try {
    while (!isFinished(batch)) {
      const tick = await Promise.race([
        new Promise<'tick'>((r) => setTimeout(r, intervalMs, 'tick')),
        interrupted,
      ]);
      if (tick === 'interrupted') {
        bar?.stop();
        throw new CliError(
          'interrupted',
          `stopped watching; batch ${batch.id} goes on (tollgate batch status ${batch.id})`,
          exitCodes.interrupted,
        );
      }
      batch = await client.batches.get.query({ id: batch.id });
      s = stats(batch, meter(doneCount(batch)));
      show();
    }
    bar?.stop();
    return batch;
  } finally {
    if (stop) process.off('SIGINT', stop);
  }
}
