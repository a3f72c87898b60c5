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
import { browserZone, fromUnits, int, percent, timeZones, toUnits, usd } from '../format.ts';
import {
  type Bucket,
  bucketize,
  RANGES,
  type Range,
  type Row,
  type Top,
  top,
} from '../overview-data.ts';
import { trpcClient } from '../trpc.ts';
import { ErrorBox, Field, Loading, PageTitle, Stat, TableWrap } from '../ui.tsx';
import { useKeyNames } from './Requests.tsx';

const MAX_PAGES = 20; // 10,000 rows: the overview reads the request log itself

async function loadRows(from: string): Promise<{ rows: Row[]; capped: boolean }> {
  const rows: Row[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < MAX_PAGES; i++) {
    const page = await trpcClient.requests.list.query({ from, limit: 500, cursor });
    rows.push(...page.items);
    if (!page.nextCursor) return { rows, capped: false };
    cursor = page.nextCursor;
  }
  return { rows, capped: true };
}

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
  const from = new Date(now.getTime() - RANGES[range].ms).toISOString();
  const q = useQuery({
    queryKey: ['overview', from],
    queryFn: () => loadRows(from),
  });
  const { names } = useKeyNames();
  const rows = q.data?.rows ?? [];
  const buckets = useMemo(
    () => bucketize(rows, range, timeZone, now),
    [rows, range, timeZone, now],
  );
  const totals = useMemo(() => {
    let errors = 0;
    let tokens = 0;
    let cost = 0n;
    for (const r of rows) {
      if (r.status !== 'ok') errors += 1;
      tokens += r.inputTokens + r.outputTokens;
      cost += toUnits(r.costUsd);
    }
    return { errors, tokens, cost: fromUnits(cost) };
  }, [rows]);

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
      <ErrorBox error={q.error} />
      {q.isPending ? (
        <Loading />
      ) : (
        <>
          <dl className="stats" aria-label="Totals">
            <Stat label="Requests" value={int(rows.length)} />
            <Stat label="Tokens" value={int(totals.tokens)} />
            <Stat label="Cost" value={usd(totals.cost)} />
            <Stat label="Error rate" value={percent(totals.errors, rows.length)} />
          </dl>
          {q.data?.capped ? (
            <p className="muted">Showing the newest {int(rows.length)} requests of this range.</p>
          ) : null}
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
            <TopTable caption="Top models" rows={top(rows, (r) => r.model)} />
            <TopTable
              caption="Top keys"
              rows={top(rows, (r) =>
                r.keyId ? (names.get(r.keyId) ?? r.keyId.slice(0, 8)) : 'login session',
              )}
            />
          </div>
        </>
      )}
    </>
  );
}
