/** Money arrives as exact decimal strings; sums stay exact in units of 1e-10 USD (BigInt). */
const SCALE = 10;

export function toUnits(decimal: string | null): bigint {
  if (!decimal) return 0n;
  const [whole = '0', frac = ''] = decimal.split('.');
  return BigInt(whole) * 10n ** BigInt(SCALE) + BigInt((frac + '0'.repeat(SCALE)).slice(0, SCALE));
}

export function fromUnits(units: bigint): string {
  const s = units.toString().padStart(SCALE + 1, '0');
  return `${s.slice(0, -SCALE)}.${s.slice(-SCALE)}`;
}

/** $ with up to 6 decimals, for people; the exact string is in the title/detail views. */
export function usd(decimal: string | null): string {
  if (decimal === null) return 'unpriced';
  const n = Number(decimal);
  if (n === 0) return '$0';
  if (n < 0.01) return `$${n.toFixed(6)}`;
  return `$${n.toFixed(4)}`;
}

export const int = (n: number) => n.toLocaleString('en-US');

export function dateTime(iso: string | null, timeZone?: string): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString('en-GB', {
    timeZone,
    year: 'numeric',
    month: 'short',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export function percent(part: number, whole: number): string {
  if (whole === 0) return '0%';
  return `${((part / whole) * 100).toFixed(1)}%`;
}

/** The browser's zone first, then UTC, then every zone the browser knows. */
export const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
export const timeZones = [...new Set([browserZone, 'UTC', ...Intl.supportedValuesOf('timeZone')])];
