import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { dateTime } from '../format.ts';
import { type Outputs, useTRPC } from '../trpc.ts';
import { ErrorBox, Field, Loading, PageTitle, TableWrap } from '../ui.tsx';

type Scope = 'gateway' | 'batches' | 'read' | 'admin';
type Created = Outputs['keys']['create'];

function NewSecret({ created, onDone }: { created: Created; onDone: () => void }) {
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <section className="card secret" aria-labelledby="secret-title">
      <h2 id="secret-title">Key “{created.name}” created</h2>
      <p>Copy the secret now: it is shown only once and cannot be recovered.</p>
      <div className="copy-row">
        <label htmlFor="new-secret" className="visually-hidden">
          Secret
        </label>
        <input id="new-secret" readOnly value={created.key} onFocus={(e) => e.target.select()} />
        <button type="button" className="primary" onClick={() => void copy()}>
          Copy
        </button>
      </div>
      <p role="status" aria-live="polite" className="muted">
        {copied === 'yes'
          ? 'Copied to the clipboard.'
          : copied === 'failed'
            ? 'Copy failed: select the text and copy it.'
            : ''}
      </p>
      <button type="button" onClick={onDone}>
        Done
      </button>
    </section>
  );
}

export function KeysPage() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const me = useQuery(trpc.auth.me.queryOptions());
  const list = useQuery(trpc.keys.list.queryOptions({ limit: 500 }));
  const [created, setCreated] = useState<Created | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const invalidate = () => qc.invalidateQueries({ queryKey: trpc.keys.list.queryKey() });
  const create = useMutation(
    trpc.keys.create.mutationOptions({
      onSuccess: (k) => {
        setCreated(k);
        void invalidate();
      },
    }),
  );
  const revoke = useMutation(
    trpc.keys.revoke.mutationOptions({
      onSuccess: () => {
        setConfirming(null);
        void invalidate();
      },
    }),
  );
  const scopes: Scope[] = [
    'gateway',
    'batches',
    'read',
    ...(me.data?.role === 'admin' ? (['admin'] as const) : []),
  ];

  const onCreate = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const chosen = scopes.filter((s) => f.get(`scope-${s}`) === 'on');
    const expires = String(f.get('expires') ?? '');
    create.mutate(
      {
        name: String(f.get('name')),
        ...(chosen.length ? { scopes: chosen } : {}),
        ...(expires ? { expiresAt: new Date(`${expires}T23:59:59`).toISOString() } : {}),
      },
      { onSuccess: () => form.reset() },
    );
  };

  return (
    <>
      <PageTitle>API keys</PageTitle>
      {created ? <NewSecret created={created} onDone={() => setCreated(null)} /> : null}
      <form className="card" onSubmit={onCreate} aria-labelledby="create-key-title">
        <h2 id="create-key-title">Create a key</h2>
        <div className="form-row">
          <Field label="Name">{(p) => <input {...p} name="name" required maxLength={200} />}</Field>
          <Field label="Expires (optional)">
            {(p) => <input {...p} name="expires" type="date" />}
          </Field>
        </div>
        <fieldset>
          <legend>Scopes</legend>
          {scopes.map((s) => (
            <label key={s} className="check">
              <input type="checkbox" name={`scope-${s}`} defaultChecked={s !== 'admin'} /> {s}
            </label>
          ))}
        </fieldset>
        <ErrorBox error={create.error} />
        <button type="submit" className="primary" disabled={create.isPending}>
          Create key
        </button>
      </form>

      <h2>Your keys</h2>
      <ErrorBox error={list.error ?? revoke.error} />
      {list.isPending ? (
        <Loading />
      ) : (
        <TableWrap label="API keys">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {(list.data?.items ?? []).map((k) => (
                <tr key={k.id}>
                  <td>{k.name}</td>
                  <td>
                    <code>{k.prefix}…</code>
                  </td>
                  <td>{k.scopes.join(', ')}</td>
                  <td>{dateTime(k.createdAt)}</td>
                  <td>{dateTime(k.lastUsedAt)}</td>
                  <td>{dateTime(k.expiresAt)}</td>
                  <td>{k.revokedAt ? 'revoked' : 'active'}</td>
                  <td>
                    {k.revokedAt ? null : confirming === k.id ? (
                      <span className="inline-actions">
                        <button
                          type="button"
                          className="danger"
                          onClick={() => revoke.mutate({ id: k.id })}
                          disabled={revoke.isPending}
                        >
                          Confirm revoke {k.name}
                        </button>
                        <button type="button" onClick={() => setConfirming(null)}>
                          Cancel
                        </button>
                      </span>
                    ) : (
                      <button type="button" onClick={() => setConfirming(k.id)}>
                        Revoke<span className="visually-hidden"> {k.name}</span>
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </>
  );
}
