import { InvalidArgumentError } from '@commander-js/extra-typings';

/** Option parsers: a bad value is a usage error (exit 2) naming the option, before any request. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

export function decimal(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n))
    throw new InvalidArgumentError('expected a number');
  return n;
}

/** Repeatable or comma-separated: `--scope a --scope b` or `--scope a,b`. */
export function list(value: string, previous: string[] | undefined): string[] {
  return [
    ...(previous ?? []),
    ...value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}

/** A price per million tokens as the server takes it: a decimal string, or "null" for unpriced. */
export function price(value: string): string | null {
  if (value === 'null' || value === 'none') return null;
  if (!/^\d{1,9}(\.\d{1,10})?$/.test(value)) {
    throw new InvalidArgumentError('expected a decimal such as 0.15 (or "null": unpriced)');
  }
  return value;
}

export function isoTime(value: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw new InvalidArgumentError('expected a date/time such as 2026-12-31T00:00:00Z');
  return new Date(t).toISOString();
}
