import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { dateTime, usd } from '../format.ts';
import { useTRPC } from '../trpc.ts';
import { ErrorBox, Field, Loading, PageTitle, TableWrap } from '../ui.tsx';
import { useKeyNames } from './Requests.tsx';

export function BudgetsPage() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const me = useQuery(trpc.auth.me.queryOptions());
  const isAdmin = me.data?.role === 'admin';
  const list = useQuery(trpc.budgets.list.queryOptions({ limit: 500 }));
  const users = useQuery({ ...trpc.users.list.queryOptions({ limit: 500 }), enabled: isAdmin });
  const { names, keys } = useKeyNames();
  const [scope, setScope] = useState<'key' | 'user'>('key');
  const set = useMutation(
    trpc.budgets.set.mutationOptions({
      onSuccess: () => void qc.invalidateQueries({ queryKey: trpc.budgets.list.queryKey() }),
    }),
  );
  const target = (s: string, id: string) =>
    s === 'key'
      ? (names.get(id) ?? id.slice(0, 8))
      : s === 'user'
        ? (users.data?.items.find((u) => u.id === id)?.email ?? id.slice(0, 8))
        : id.slice(0, 8);

  const onSet = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    set.mutate({
      scope,
      targetId: String(f.get('targetId')),
      period: f.get('period') === 'day' ? 'day' : 'month',
      amountUsd: String(f.get('amount')),
    });
  };

  return (
    <>
      <PageTitle>Budgets</PageTitle>
      {isAdmin ? (
        <form className="card" onSubmit={onSet} aria-labelledby="budget-form-title">
          <h2 id="budget-form-title">Set a budget</h2>
          <div className="form-row">
            <Field label="For">
              {(p) => (
                <select
                  {...p}
                  value={scope}
                  onChange={(e) => setScope(e.target.value === 'user' ? 'user' : 'key')}
                >
                  <option value="key">an API key</option>
                  <option value="user">a user</option>
                </select>
              )}
            </Field>
            <Field label={scope === 'key' ? 'Key' : 'User'}>
              {(p) => (
                <select {...p} name="targetId" required key={scope}>
                  {scope === 'key'
                    ? keys
                        .filter((k) => !k.revokedAt)
                        .map((k) => (
                          <option key={k.id} value={k.id}>
                            {k.name} ({k.prefix}…)
                          </option>
                        ))
                    : (users.data?.items ?? []).map((u) => (
                        <option key={u.id} value={u.id}>
                          {u.email}
                        </option>
                      ))}
                </select>
              )}
            </Field>
            <Field label="Period">
              {(p) => (
                <select {...p} name="period" defaultValue="month">
                  <option value="day">day (UTC)</option>
                  <option value="month">month (UTC)</option>
                </select>
              )}
            </Field>
            <Field label="Amount (USD)">
              {(p) => (
                <input {...p} name="amount" inputMode="decimal" required pattern="\d+(\.\d+)?" />
              )}
            </Field>
          </div>
          <ErrorBox error={set.error} />
          <button type="submit" className="primary" disabled={set.isPending}>
            Set budget
          </button>
        </form>
      ) : null}
      <ErrorBox error={list.error} />
      {list.isPending ? (
        <Loading />
      ) : (list.data?.items ?? []).length === 0 ? (
        <p>No budgets.</p>
      ) : (
        <TableWrap label="Budgets">
          <table>
            <thead>
              <tr>
                <th scope="col">Scope</th>
                <th scope="col">Target</th>
                <th scope="col">Period</th>
                <th scope="col">Amount</th>
                <th scope="col">Spent</th>
                <th scope="col">Remaining</th>
                <th scope="col">Resets</th>
              </tr>
            </thead>
            <tbody>
              {(list.data?.items ?? []).map((b) => (
                <tr key={b.id}>
                  <td>{b.scope}</td>
                  <td>{target(b.scope, b.targetId)}</td>
                  <td>{b.period}</td>
                  <td>{usd(b.amountUsd)}</td>
                  <td title={b.spentUsd}>{usd(b.spentUsd)}</td>
                  <td title={b.remainingUsd}>{usd(b.remainingUsd)}</td>
                  <td>{dateTime(b.resetsAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </>
  );
}
