import { styleText } from 'node:util';
import Table from 'cli-table3';

type Style = Parameters<typeof styleText>[0];

/**
 * Styles text for one stream. styleText checks the stream itself: colors only when it is a TTY
 * whose environment allows them (NO_COLOR, NODE_DISABLE_COLORS and TERM=dumb turn them off).
 */
export const paint = (stream: NodeJS.WriteStream, style: Style, text: string) =>
  styleText(style, text, { stream });

export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Human notes (hints, "shown once" warnings) go to stderr so stdout stays the data. */
export function note(line: string): void {
  process.stderr.write(`${paint(process.stderr, 'dim', line)}\n`);
}

export function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

type Cell = string | number | boolean | null | undefined;

/** A table on a TTY; tab-separated lines (header first) otherwise, for cut/awk/sort. */
export function printTable(head: string[], rows: Cell[][]): void {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  if (!process.stdout.isTTY) {
    for (const r of [head, ...cells]) out(r.join('\t'));
    return;
  }
  const table = new Table({
    head: head.map((h) => paint(process.stdout, 'bold', h)),
    style: { head: [], border: [] },
  });
  table.push(...cells);
  out(table.toString());
}

/** `key: value` lines for one object. */
export function printFields(fields: [string, Cell][]): void {
  const width = Math.max(...fields.map(([k]) => k.length));
  for (const [k, v] of fields) {
    out(`${paint(process.stdout, 'bold', `${k}:`.padEnd(width + 1))} ${v ?? '-'}`);
  }
}

/** After a page: how to get the next one. */
export function noteNextCursor(nextCursor: string | null): void {
  if (nextCursor) note(`more: --cursor ${nextCursor}`);
}

/** ISO time → "2026-12-05 02:19:12Z" (shorter in a table); null stays null. */
export function shortTime(iso: string | null | undefined): string | null {
  if (!iso) return null;
  return `${iso.slice(0, 19).replace('T', ' ')}Z`;
}
