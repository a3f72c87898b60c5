import { z } from 'zod';

const Bound = z
  .string()
  .min(10)
  .max(40)
  .describe('a date (YYYY-MM-DD, local midnight in tz) or an ISO date-time');

export const UsageInput = z.object({
  from: Bound.describe('start, inclusive: a date (local midnight in tz) or an ISO date-time'),
  to: Bound.describe('end: a date (that whole day included) or an ISO date-time (exclusive)'),
  groupBy: z.enum(['hour', 'day', 'model', 'key', 'user', 'team']).default('day'),
  tz: z.string().min(1).max(64).default('UTC').describe('IANA time zone, e.g. Europe/Berlin'),
});

const totals = {
  requests: z.number().int(),
  errors: z.number().int(),
  rejected: z.number().int(),
  cacheHits: z.number().int(),
  inputTokens: z.number().int(),
  cachedInputTokens: z.number().int(),
  outputTokens: z.number().int(),
  reasoningTokens: z.number().int(),
  costUsd: z.string().describe('exact decimal; unpriced calls add 0 and count in unpricedRequests'),
  unpricedRequests: z.number().int(),
};

export const UsageTotals = z.object(totals);

export const UsageSummary = z.object({
  from: z.iso.datetime(),
  to: z.iso.datetime(),
  groupBy: z.enum(['hour', 'day', 'model', 'key', 'user', 'team']),
  tz: z.string(),
  items: z.array(
    z.object({
      group: z
        .string()
        .describe(
          "hour (YYYY-MM-DDTHH:00 in tz), day (YYYY-MM-DD in tz), model, key id ('' = no key), user id or team id ('' = no team)",
        ),
      ...totals,
    }),
  ),
  totals: UsageTotals,
});

export const UsageCsv = z.object({ csv: z.string() });
