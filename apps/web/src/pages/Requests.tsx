import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { dateTime, int, usd } from '../format.ts';
import { type Outputs, useTRPC } from '../trpc.ts';
import { ErrorBox, Field, Loading, PageTitle, TableWrap } from '../ui.tsx';

type Row = Outputs['requests']['list']['items'][number];
const STATUSES = ['ok', 'error', 'aborted', 'rejected'] as const;
type Status = (typeof STATUSES)[number];

/** datetime-local value (the browser's zone) → ISO, or undefined. */
const toIso = (v: string | null) => (v ? new Date(v).toISOString() : undefined);

export function useKeyNames() {
  const trpc = useTRPC();
  const keys = useQuery(trpc.keys.list.queryOptions({ limit: 500 }));
  const names = new Map<string, string>();
  for (const k of keys.data?.items ?? []) names.set(k.id, `${k.name} (${k.prefix}…)`);
  return { names, keys: keys.data?.items ?? [] };
}

export function RequestTable({ rows, keyNames }: { rows: Row[]; keyNames: Map<string, string> }) {
  return (
    <TableWrap label="Requests">
      <table>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Model</th>
            <th scope="col">Status</th>
            <th scope="col">Tokens in / out</th>
            <th scope="col">Cost</th>
            <th scope="col">Latency</th>
            <th scope="col">Key</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id}>
              <td>
                <Link to={`/requests/${r.id}`}>{dateTime(r.createdAt)}</Link>
              </td>
              <td>{r.model}</td>
              <td>
                <span className={`badge badge-${r.status}`}>{r.status}</span>
                {r.errorCode ? <span className="muted"> {r.errorCode}</span> : null}
              </td>
              <td>
                {int(r.inputTokens)} / {int(r.outputTokens)}
              </td>
              <td title={r.costUsd ?? 'unpriced'}>{usd(r.costUsd)}</td>
              <td>{int(r.latencyMs)} ms</td>
              <td>{r.keyId ? (keyNames.get(r.keyId) ?? r.keyId.slice(0, 8)) : 'login session'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

export function RequestsPage() {
  const trpc = useTRPC();
  const [params, setParams] = useSearchParams();
  const [cursors, setCursors] = useState<string[]>([]); // the cursors of the pages before this one
  const cursor = cursors.at(-1);
  const model = params.get('model') || undefined;
  const status = (params.get('status') || undefined) as Status | undefined;
  const keyId = params.get('key') || undefined;
  const from = toIso(params.get('from'));
  const to = toIso(params.get('to'));
  const list = useQuery(
    trpc.requests.list.queryOptions({ limit: 50, model, status, keyId, from, to, cursor }),
  );
  const { names, keys } = useKeyNames();
  const rows = list.data?.items ?? [];

  const onFilter = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const k of ['model', 'status', 'key', 'from', 'to']) {
      const v = String(f.get(k) ?? '');
      if (v) next.set(k, v);
    }
    setCursors([]);
    setParams(next);
  };

  return (
    <>
      <PageTitle>Requests</PageTitle>
      <form className="filters" onSubmit={onFilter} aria-label="Filter requests">
        <Field label="Model">
          {(p) => <input {...p} name="model" defaultValue={model ?? ''} />}
        </Field>
        <Field label="Status">
          {(p) => (
            <select {...p} name="status" defaultValue={status ?? ''}>
              <option value="">any</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Key">
          {(p) => (
            <select {...p} name="key" defaultValue={keyId ?? ''}>
              <option value="">any</option>
              {keys.map((k) => (
                <option key={k.id} value={k.id}>
                  {k.name} ({k.prefix}…)
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="From">
          {(p) => (
            <input
              {...p}
              name="from"
              type="datetime-local"
              defaultValue={params.get('from') ?? ''}
            />
          )}
        </Field>
        <Field label="To">
          {(p) => (
            <input {...p} name="to" type="datetime-local" defaultValue={params.get('to') ?? ''} />
          )}
        </Field>
        <div className="actions">
          <button type="submit" className="primary">
            Apply filters
          </button>
        </div>
      </form>
      <ErrorBox error={list.error} />
      {list.isPending ? (
        <Loading />
      ) : rows.length === 0 ? (
        <p>No requests match.</p>
      ) : (
        <RequestTable rows={rows} keyNames={names} />
      )}
      <nav className="pager" aria-label="Pages">
        <button
          type="button"
          disabled={cursors.length === 0}
          onClick={() => setCursors((c) => c.slice(0, -1))}
        >
          Newer
        </button>
        <span className="muted">Page {cursors.length + 1}</span>
        <button
          type="button"
          disabled={!list.data?.nextCursor}
          onClick={() => {
            const next = list.data?.nextCursor;
            if (next) setCursors((c) => [...c, next]);
          }}
        >
          Older
        </button>
      </nav>
    </>
  );
}
