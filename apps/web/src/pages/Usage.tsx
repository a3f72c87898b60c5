import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { download } from '../download.ts';
import { browserZone, int, timeZones, usd } from '../format.ts';
import { type Inputs, useTRPC } from '../trpc.ts';
import { ErrorBox, Field, Loading, PageTitle, TableWrap } from '../ui.tsx';
import { useKeyNames } from './Requests.tsx';

type UsageInput = Inputs['usage']['summary'];
type GroupBy = NonNullable<UsageInput['groupBy']>;
const GROUPS: GroupBy[] = ['day', 'model', 'key', 'user'];

/** YYYY-MM-DD of a date in the browser's zone. */
const day = (d: Date) =>
  `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

export function UsagePage() {
  const trpc = useTRPC();
  const [input, setInput] = useState<Required<UsageInput>>(() => ({
    from: day(new Date(Date.now() - 29 * 86_400_000)),
    to: day(new Date()),
    groupBy: 'day',
    tz: browserZone,
  }));
  const [downloadError, setDownloadError] = useState<unknown>(null);
  const q = useQuery(trpc.usage.summary.queryOptions(input));
  const { names } = useKeyNames();
  const me = useQuery(trpc.auth.me.queryOptions());
  const users = useQuery({
    ...trpc.users.list.queryOptions({ limit: 500 }),
    enabled: me.data?.role === 'admin', // members see only their own usage
  });
  const label = (group: string) => {
    if (input.groupBy === 'key')
      return group ? (names.get(group) ?? group.slice(0, 8)) : 'login session';
    if (input.groupBy === 'user')
      return users.data?.items.find((u) => u.id === group)?.email ?? group.slice(0, 8);
    return group;
  };
  const rows = (q.data?.items ?? []).map((r) => ({
    ...r,
    label: label(r.group),
    cost: Number(r.costUsd),
  }));

  const onSubmit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setInput({
      from: String(f.get('from')),
      to: String(f.get('to')),
      groupBy: String(f.get('groupBy')) as GroupBy,
      tz: String(f.get('tz')),
    });
  };
  const onCsv = async () => {
    setDownloadError(null);
    const qs = new URLSearchParams(input as Record<string, string>);
    try {
      await download(`/api/usage.csv?${qs}`, `tollgate-usage-${input.from}-${input.to}.csv`);
    } catch (e) {
      setDownloadError(e);
    }
  };

  return (
    <>
      <PageTitle>Usage</PageTitle>
      <form className="filters" onSubmit={onSubmit} aria-label="Usage range">
        <Field label="From">
          {(p) => <input {...p} name="from" type="date" required defaultValue={input.from} />}
        </Field>
        <Field label="To">
          {(p) => <input {...p} name="to" type="date" required defaultValue={input.to} />}
        </Field>
        <Field label="Group by">
          {(p) => (
            <select {...p} name="groupBy" defaultValue={input.groupBy}>
              {GROUPS.map((g) => (
                <option key={g} value={g}>
                  {g}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Time zone">
          {(p) => (
            <select {...p} name="tz" defaultValue={input.tz}>
              {timeZones.map((z) => (
                <option key={z} value={z}>
                  {z}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div className="actions inline-actions">
          <button type="submit" className="primary">
            Show
          </button>
          <button type="button" onClick={() => void onCsv()}>
            Download CSV
          </button>
        </div>
      </form>
      <ErrorBox error={q.error ?? downloadError} />
      {q.isPending ? (
        <Loading />
      ) : (
        <>
          <figure className="chart" aria-labelledby="usage-chart">
            <figcaption id="usage-chart">Cost (USD) by {input.groupBy}</figcaption>
            <ResponsiveContainer width="100%" height={240}>
              <BarChart data={rows}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="label" minTickGap={16} />
                <YAxis width={84} />
                <Tooltip />
                <Bar dataKey="cost" name="cost" fill="#1d7a46" />
              </BarChart>
            </ResponsiveContainer>
          </figure>
          <TableWrap label="Usage">
            <table>
              <thead>
                <tr>
                  <th scope="col">{input.groupBy}</th>
                  <th scope="col">Requests</th>
                  <th scope="col">Errors</th>
                  <th scope="col">Input tokens</th>
                  <th scope="col">Output tokens</th>
                  <th scope="col">Cost</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.group}>
                    <td>{r.label}</td>
                    <td>{int(r.requests)}</td>
                    <td>{int(r.errors)}</td>
                    <td>{int(r.inputTokens)}</td>
                    <td>{int(r.outputTokens)}</td>
                    <td title={r.costUsd}>{usd(r.costUsd)}</td>
                  </tr>
                ))}
              </tbody>
              {q.data ? (
                <tfoot>
                  <tr>
                    <th scope="row">Total</th>
                    <td>{int(q.data.totals.requests)}</td>
                    <td>{int(q.data.totals.errors)}</td>
                    <td>{int(q.data.totals.inputTokens)}</td>
                    <td>{int(q.data.totals.outputTokens)}</td>
                    <td title={q.data.totals.costUsd}>{usd(q.data.totals.costUsd)}</td>
                  </tr>
                </tfoot>
              ) : null}
            </table>
          </TableWrap>
        </>
      )}
    </>
  );
}
