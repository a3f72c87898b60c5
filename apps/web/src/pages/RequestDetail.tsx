import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { dateTime, int } from '../format.ts';
import { useTRPC } from '../trpc.ts';
import { ErrorBox, Loading, PageTitle } from '../ui.tsx';

function Body({ label, value }: { label: string; value: unknown }) {
  return (
    <section aria-labelledby={`body-${label}`}>
      <h2 id={`body-${label}`}>{label}</h2>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable block must be keyboard-reachable */}
      <pre tabIndex={0} className="body">
        {JSON.stringify(value, null, 2)}
      </pre>
    </section>
  );
}

export function RequestDetailPage() {
  const { id = '' } = useParams();
  const trpc = useTRPC();
  const q = useQuery(trpc.requests.get.queryOptions({ id }));
  const r = q.data;
  return (
    <>
      <PageTitle>Request</PageTitle>
      <p>
        <Link to="/requests">← All requests</Link>
      </p>
      <ErrorBox error={q.error} />
      {q.isPending ? <Loading /> : null}
      {r ? (
        <>
          <dl className="details">
            <dt>Request id</dt>
            <dd>
              <code>{r.requestId}</code>
            </dd>
            <dt>Time</dt>
            <dd>{dateTime(r.createdAt)}</dd>
            <dt>Model</dt>
            <dd>
              {r.model} → {r.provider}/{r.upstreamModel}
            </dd>
            <dt>Status</dt>
            <dd>
              <span className={`badge badge-${r.status}`}>{r.status}</span>
              {r.errorCode ? ` ${r.errorCode}` : ''}
            </dd>
            <dt>Surface</dt>
            <dd>{r.surface ?? '—'}</dd>
            <dt>Latency</dt>
            <dd>
              {int(r.latencyMs)} ms{r.ttftMs !== null ? ` (first token ${int(r.ttftMs)} ms)` : ''}
            </dd>
            <dt>Tokens</dt>
            <dd>
              {int(r.inputTokens)} in ({int(r.cachedInputTokens)} cached), {int(r.outputTokens)} out
              {r.usageEstimated ? ' (estimated)' : ''}
            </dd>
            <dt>Cost</dt>
            <dd>{r.costUsd === null ? 'unpriced' : `$${r.costUsd}`}</dd>
            <dt>Cache hit</dt>
            <dd>{r.cacheHit ? 'yes' : 'no'}</dd>
          </dl>
          {r.bodies ? (
            <>
              <Body label="Request body" value={r.bodies.request} />
              <Body label="Response body" value={r.bodies.response} />
            </>
          ) : (
            <p className="muted">Bodies were not stored for this request.</p>
          )}
        </>
      ) : null}
    </>
  );
}
