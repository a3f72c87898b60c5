import { TRPCClientError } from '@trpc/client';
import { paint } from './output.ts';

export const exitCodes = { ok: 0, error: 1, usage: 2, interrupted: 130 } as const;

/** A failure to report as `error: <code>: <message>` and exit 1 (or 2 for bad usage). */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: number;
  constructor(code: string, message: string, exitCode: number = exitCodes.error) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

export const usageError = (message: string) => new CliError('usage', message, exitCodes.usage);

type ErrorData = { code?: string; reason?: string | null; httpStatus?: number };

export function isTrpcError(e: unknown): e is TRPCClientError<never> {
  return e instanceof TRPCClientError;
}

export function httpStatusOf(e: unknown): number | undefined {
  return isTrpcError(e) ? (e.data as ErrorData | undefined)?.httpStatus : undefined;
}

/** zod's message is the JSON list of issues: make it `field: problem; …`. */
function readableMessage(message: string): string {
  if (!message.startsWith('[')) return message;
  try {
    const issues = JSON.parse(message) as { path?: (string | number)[]; message?: string }[];
    if (!Array.isArray(issues)) return message;
    return issues
      .map((i) => (i.path?.length ? `${i.path.join('.')}: ${i.message}` : String(i.message)))
      .join('; ');
  } catch {
    return message;
  }
}

/** The server's code (its domain reason when it gives one, else the tRPC code) and message. */
export function describeError(e: unknown, url?: string): { code: string; message: string } {
  if (e instanceof CliError) return { code: e.code, message: e.message };
  if (isTrpcError(e)) {
    const data = e.data as ErrorData | undefined;
    if (data?.code) {
      return { code: data.reason ?? data.code, message: readableMessage(e.message) };
    }
    // No tRPC error shape: the request never got an answer from Tollgate.
    const cause = (e.cause as { cause?: { code?: string; message?: string } } | undefined)?.cause;
    const why = cause?.code ?? cause?.message ?? e.message;
    return { code: 'unreachable', message: `cannot reach ${url ?? 'the server'}: ${why}` };
  }
  if (e instanceof Error) return { code: 'error', message: e.message };
  return { code: 'error', message: String(e) };
}

export function printError(e: unknown, url?: string): void {
  const { code, message } = describeError(e, url);
  process.stderr.write(`${paint(process.stderr, ['bold', 'red'], 'error:')} ${code}: ${message}\n`);
}
