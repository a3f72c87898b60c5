import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { browserZone, int, percent, timeZones, usd } from '../format.ts';
import {
  type Bucket,
  bucketize,
  failedOf,
  RANGES,
  type Range,
  type Top,
  top,
} from '../overview-data.ts';
import { useTRPC } from '../trpc.ts';
import { ErrorBox, Field, Loading, PageTitle, Stat, TableWrap } from '../ui.tsx';
import { useKeyNames } from './Requests.tsx';

function Chart({
  title,
  data,
  children,
}: {
  title: string;
  data: Bucket[];
  children: (data: Bucket[]) => React.ReactElement;
}) {
  const id = `chart-${title.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <figure className="chart" aria-labelledby={id}>
      <figcaption id={id}>{title}</figcaption>
      <ResponsiveContainer width="100%" height={220}>
        {children(data)}
      </ResponsiveContainer>
    </figure>
  );
}

function TopTable({ caption, rows }: { caption: string; rows: Top[] }) {
  return (
    <TableWrap label={caption}>
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Requests</th>
            <th scope="col">Tokens</th>
            <th scope="col">Cost</th>
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr>
              <td colSpan={4}>No requests in this range.</td>
            </tr>
          ) : (
            rows.map((r) => (
              <tr key={r.name}>
                <td>{r.name}</td>
                <td>{int(r.requests)}</td>
                <td>{int(r.tokens)}</td>
                <td title={r.cost}>{usd(r.cost)}</td>
              </tr>
            ))
          )}
        </tbody>
      </table>
    </TableWrap>
  );
}

export function OverviewPage() {
  const [range, setRange] = useState<Range>('24h');
  const [timeZone, setTimeZone] = useState(browserZone);
  const [now, setNow] = useState(() => new Date());
  // Totals, charts and tops come from usage.summary: the server sums the whole range exactly
  // (hourly rollups + the raw rows since), however many calls it holds.
  const trpc = useTRPC();
  const span = {
    from: new Date(now.getTime() - RANGES[range].ms).toISOString(),
    to: now.toISOString(),
    tz: timeZone,
  };
  const byTime = useQuery(
    trpc.usage.summary.queryOptions({ ...span, groupBy: RANGES[range].bucket }),
  );
  const byModel = useQuery(trpc.usage.summary.queryOptions({ ...span, groupBy: 'model' }));
  const byKey = useQuery(trpc.usage.summary.queryOptions({ ...span, groupBy: 'key' }));
  const { names } = useKeyNames();
  const buckets = useMemo(
    () => bucketize(byTime.data?.items ?? [], range, timeZone, now),
    [byTime.data, range, timeZone, now],
  );
  const totals = byTime.data?.totals;
  const keyName = (id: string) => (id === '' ? 'login session' : (names.get(id) ?? id.slice(0, 8)));

  return (
    <>
      <PageTitle>Overview</PageTitle>
      <form className="filters" aria-label="Overview range" onSubmit={(e) => e.preventDefault()}>
        <Field label="Range">
          {(p) => (
            <select {...p} value={range} onChange={(e) => setRange(e.target.value as Range)}>
              {Object.entries(RANGES).map(([k, v]) => (
                <option key={k} value={k}>
                  {v.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Time zone">
          {(p) => (
            <select {...p} value={timeZone} onChange={(e) => setTimeZone(e.target.value)}>
              {timeZones.map((z) => (
                <option key={z} value={z}>
                  {z}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div className="actions">
          <button type="button" onClick={() => setNow(new Date())}>
            Refresh
          </button>
        </div>
      </form>
      <ErrorBox error={byTime.error ?? byModel.error ?? byKey.error} />
      {!totals || byModel.isPending || byKey.isPending ? (
        <Loading />
      ) : (
        <>
          <dl className="stats" aria-label="Totals">
            <Stat label="Requests" value={int(totals.requests)} />
            <Stat label="Tokens" value={int(totals.inputTokens + totals.outputTokens)} />
            <Stat label="Cost" value={usd(totals.costUsd)} />
            <Stat label="Error rate" value={percent(failedOf(totals), totals.requests)} />
          </dl>
          <div className="charts">
            <Chart title="Requests" data={buckets}>
              {(d) => (
                <BarChart data={d}>
                  <CartesianGrid strokeDasharray="3 3" />
                  <XAxis dataKey="label" minTickGap={24} />
                  <YAxis allowDecimals={false} width={40} />
                  <Tooltip />
                  <Bar dataKey="requests" name="requests" fill="#2456a6" />
                </BarChart>
              )}
            </Chart>
            <Chart title="Tokens" data={buckets}>
              {(d) => (
                <LineChart data={d}>
                  <CartesianGrid strokeDasharray="3 3" />
                  <XAxis dataKey="label" minTickGap={24} />
                  <YAxis width={56} />
                  <Tooltip />
                  <Legend />
                  <Line dataKey="inputTokens" name="input" stroke="#2456a6" dot={false} />
                  <Line dataKey="outputTokens" name="output" stroke="#b3541e" dot={false} />
                </LineChart>
              )}
            </Chart>
            <Chart title="Cost (USD)" data={buckets}>
              {(d) => (
                <LineChart data={d}>
                  <CartesianGrid strokeDasharray="3 3" />
                  <XAxis dataKey="label" minTickGap={24} />
                  <YAxis width={84} />
                  <Tooltip />
                  <Line dataKey="cost" name="cost" stroke="#1d7a46" dot={false} />
                </LineChart>
              )}
            </Chart>
            <Chart title="Error rate (%)" data={buckets}>
              {(d) => (
                <LineChart data={d}>
                  <CartesianGrid strokeDasharray="3 3" />
                  <XAxis dataKey="label" minTickGap={24} />
                  <YAxis width={40} domain={[0, 100]} />
                  <Tooltip />
                  <Line dataKey="errorRate" name="error rate %" stroke="#b3261e" dot={false} />
                </LineChart>
              )}
            </Chart>
          </div>
          <div className="tops">
            <TopTable caption="Top models" rows={top(byModel.data?.items ?? [], (m) => m)} />
            <TopTable caption="Top keys" rows={top(byKey.data?.items ?? [], keyName)} />
          </div>
        </>
      )}
    </>
  );
}
