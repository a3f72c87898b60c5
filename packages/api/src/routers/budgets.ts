import { listBudgets, setBudget } from '@tollgate/core';
import { adminProcedure, router, scopedProcedure } from '../trpc.ts';
import { Budget, BudgetPage, SetBudgetInput } from './budgets.schemas.ts';
import { ListInput } from './users.schemas.ts';

export const budgetsRouter = router({
  set: adminProcedure
    .meta({
      openapi: {
        method: 'PUT',
        path: '/budgets',
        tags: ['budgets'],
        protect: true,
        summary:
          'Set the USD budget of a key or user for a UTC day or month (replaces the previous amount)',
      },
    })
    .input(SetBudgetInput)
    .output(Budget)
    .mutation(({ ctx, input }) => setBudget(ctx, ctx.principal, input)),

  list: scopedProcedure('read')
    .meta({
      openapi: {
        method: 'GET',
        path: '/budgets',
        tags: ['budgets'],
        protect: true,
        summary:
          "Budgets of your user and keys (an admin: all) with the current period's spent, reserved and remaining",
      },
    })
    .input(ListInput)
    .output(BudgetPage)
    .query(({ ctx, input }) => listBudgets(ctx, ctx.principal, input)),
});
