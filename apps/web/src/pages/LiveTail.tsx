import { useSubscription } from '@trpc/tanstack-react-query';
import { useState } from 'react';
import { int } from '../format.ts';
import { type Outputs, useTRPC } from '../trpc.ts';
import { PageTitle } from '../ui.tsx';
import { RequestTable, useKeyNames } from './Requests.tsx';

type Row = Outputs['requests']['list']['items'][number];
const KEEP = 500;

/**
 * requests.tail (a tRPC subscription over SSE, the access token in the Authorization header):
 * the last 30 seconds, then each new row as the log writer stores it, newest on top.
 */
export function LiveTailPage() {
  const trpc = useTRPC();
  const [paused, setPaused] = useState(false);
  const [rows, setRows] = useState<Row[]>([]);
  const { names } = useKeyNames();
  const sub = useSubscription(
    trpc.requests.tail.subscriptionOptions(undefined, {
      enabled: !paused,
      // A reconnect (or resume) re-sends the last 30 seconds: keep each row once.
      onData: (row) =>
        setRows((prev) =>
          prev.some((r) => r.id === row.id) ? prev : [row, ...prev].slice(0, KEEP),
        ),
    }),
  );
  const state = paused
    ? 'Paused'
    : sub.status === 'pending'
      ? 'Live'
      : sub.status === 'error'
        ? 'Disconnected, retrying'
        : 'Connecting';
  return (
    <>
      <PageTitle>Live tail</PageTitle>
      <div className="toolbar">
        <button type="button" aria-pressed={paused} onClick={() => setPaused((p) => !p)}>
          {paused ? 'Resume' : 'Pause'}
        </button>
        <button type="button" onClick={() => setRows([])} disabled={rows.length === 0}>
          Clear
        </button>
        <p role="status" aria-live="polite" className="muted">
          {state}: {int(rows.length)} request{rows.length === 1 ? '' : 's'}
        </p>
      </div>
      {sub.error ? (
        <p role="alert" className="error">
          {sub.error.message}
        </p>
      ) : null}
      {rows.length ? <RequestTable rows={rows} keyNames={names} /> : <p>Waiting for requests…</p>}
    </>
  );
}
