import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '../trpc.ts';
import { PageTitle } from '../ui.tsx';
import { RequestTable, useKeyNames } from './Requests.tsx';

/**
 * New request-log rows as they are written (the log is flushed about once a second), newest
 * first, since this page was opened.
 */
export function LiveTailPage() {
  const trpc = useTRPC();
  const [since] = useState(() => new Date(Date.now() - 60_000).toISOString());
  const [paused, setPaused] = useState(false);
  const { names } = useKeyNames();
  const tail = useQuery({
    ...trpc.requests.list.queryOptions({ from: since, limit: 200 }),
    refetchInterval: paused ? false : 2_000,
  });
  const rows = tail.data?.items ?? [];
  return (
    <>
      <PageTitle>Live tail</PageTitle>
      <div className="toolbar">
        <button type="button" aria-pressed={paused} onClick={() => setPaused((p) => !p)}>
          {paused ? 'Resume' : 'Pause'}
        </button>
        <p role="status" aria-live="polite" className="muted">
          {paused ? 'Paused' : 'Live'}: {rows.length} request{rows.length === 1 ? '' : 's'} since{' '}
          {new Date(since).toLocaleTimeString('en-GB')}
        </p>
      </div>
      {tail.error ? (
        <p role="alert" className="error">
          {tail.error.message}
        </p>
      ) : null}
      {rows.length ? <RequestTable rows={rows} keyNames={names} /> : <p>Waiting for requests…</p>}
    </>
  );
}
