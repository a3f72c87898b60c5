import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { download } from '../download.ts';
import { dateTime, int, usd } from '../format.ts';
import { useTRPC } from '../trpc.ts';
import { ErrorBox, Loading, PageTitle, TableWrap } from '../ui.tsx';

const ACTIVE = new Set(['queued', 'running']);

export function BatchesPage() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const list = useQuery({
    ...trpc.batches.list.queryOptions({ limit: 100 }),
    // Live progress: poll while any batch is still queued or running.
    refetchInterval: (q) => (q.state.data?.items.some((b) => ACTIVE.has(b.status)) ? 1_000 : false),
  });
  const [downloadError, setDownloadError] = useState<unknown>(null);
  const cancel = useMutation(
    trpc.batches.cancel.mutationOptions({
      onSuccess: () => void qc.invalidateQueries({ queryKey: trpc.batches.list.queryKey() }),
    }),
  );
  const onDownload = async (id: string) => {
    setDownloadError(null);
    try {
      await download(`/api/batches/${encodeURIComponent(id)}/results`, `batch-${id}-results.jsonl`);
    } catch (e) {
      setDownloadError(e);
    }
  };
  const items = list.data?.items ?? [];
  return (
    <>
      <PageTitle>Batches</PageTitle>
      <p className="muted">
        Submit batches with <code>POST /api/batches</code> (JSON or JSONL) or the client; they
        appear here with live progress.
      </p>
      <ErrorBox error={list.error ?? cancel.error ?? downloadError} />
      {list.isPending ? (
        <Loading />
      ) : items.length === 0 ? (
        <p>No batches yet.</p>
      ) : (
        <TableWrap label="Batches">
          <table>
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">Succeeded / failed / cancelled</th>
                <th scope="col">Cost</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((b) => {
                const done = b.counts.succeeded + b.counts.failed + b.counts.cancelled;
                return (
                  <tr key={b.id}>
                    <td>{dateTime(b.createdAt)}</td>
                    <td>
                      <span className={`badge badge-${b.status}`}>{b.status}</span>
                    </td>
                    <td>
                      <progress
                        max={b.counts.total}
                        value={done}
                        aria-label={`Batch ${b.id.slice(0, 8)} progress`}
                      />{' '}
                      {int(done)} / {int(b.counts.total)}
                    </td>
                    <td>
                      {int(b.counts.succeeded)} / {int(b.counts.failed)} / {int(b.counts.cancelled)}
                    </td>
                    <td title={b.costUsd}>{usd(b.costUsd)}</td>
                    <td className="inline-actions">
                      {ACTIVE.has(b.status) ? (
                        <button
                          type="button"
                          className="danger"
                          disabled={cancel.isPending}
                          onClick={() => cancel.mutate({ id: b.id })}
                        >
                          Cancel<span className="visually-hidden"> batch {b.id.slice(0, 8)}</span>
                        </button>
                      ) : null}
                      {done > 0 ? (
                        <button type="button" onClick={() => void onDownload(b.id)}>
                          Download results
                          <span className="visually-hidden"> of batch {b.id.slice(0, 8)}</span>
                        </button>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      )}
    </>
  );
}
