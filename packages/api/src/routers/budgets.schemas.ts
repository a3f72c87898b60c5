import { z } from 'zod';

const Money = z.string().describe('USD as a decimal string, e.g. "12.5"');

export const SetBudgetInput = z.strictObject({
  scope: z.enum(['key', 'user', 'team']),
  targetId: z.uuid(),
  period: z.enum(['day', 'month']).describe('UTC day or UTC calendar month'),
  amountUsd: z
    .union([
      z.string().regex(/^\d{1,10}(\.\d{1,10})?$/, 'a non-negative decimal, e.g. "12.50"'),
      z.number().nonnegative().max(1e10),
    ])
    .transform((v) => (typeof v === 'number' ? String(v) : v)),
});

export const Budget = z.object({
  id: z.uuid(),
  scope: z.enum(['key', 'user', 'team']),
  targetId: z.uuid(),
  period: z.enum(['day', 'month']),
  amountUsd: Money,
  spentUsd: Money,
  reservedUsd: Money,
  remainingUsd: Money,
  periodStart: z.iso.datetime(),
  resetsAt: z.iso.datetime(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

export const BudgetPage = z.object({ items: z.array(Budget), nextCursor: z.string().nullable() });
