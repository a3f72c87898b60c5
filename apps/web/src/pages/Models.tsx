import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { type Inputs, type Outputs, useTRPC } from '../trpc.ts';
import { ErrorBox, Field, Loading, PageTitle, TableWrap } from '../ui.tsx';

type Model = Outputs['models']['list']['items'][number];
type Upsert = Inputs['models']['upsert'];
const PROVIDERS = ['mock', 'openai', 'anthropic'] as const;

const price = (v: FormDataEntryValue | null) => {
  const s = String(v ?? '').trim();
  return s === '' ? null : s;
};

function ModelForm({ editing, onDone }: { editing: Model | null; onDone: () => void }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const upsert = useMutation(
    trpc.models.upsert.mutationOptions({
      onSuccess: () => {
        void qc.invalidateQueries({ queryKey: trpc.models.list.queryKey() });
        onDone();
      },
    }),
  );
  const onSubmit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const provider = String(f.get('provider')) as Upsert['provider'];
    const ctx = String(f.get('contextWindow') ?? '');
    upsert.mutate({
      name: String(f.get('name')),
      provider,
      upstreamModel: String(f.get('upstreamModel')),
      kind: f.get('kind') === 'embedding' ? 'embedding' : 'chat',
      inputPricePerMTok: price(f.get('inputPrice')),
      outputPricePerMTok: price(f.get('outputPrice')),
      contextWindow: ctx ? Number(ctx) : null,
      enabled: f.get('enabled') === 'on',
    });
  };
  return (
    <form
      key={editing?.name ?? 'new'}
      className="card"
      onSubmit={onSubmit}
      aria-labelledby="model-form-title"
    >
      <h2 id="model-form-title">{editing ? `Edit ${editing.name}` : 'Add a model'}</h2>
      <div className="form-row">
        <Field label="Public name">
          {(p) => (
            <input {...p} name="name" required defaultValue={editing?.name} readOnly={!!editing} />
          )}
        </Field>
        <Field label="Provider">
          {(p) => (
            <select {...p} name="provider" defaultValue={editing?.provider ?? 'mock'}>
              {PROVIDERS.map((x) => (
                <option key={x} value={x}>
                  {x}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Upstream model">
          {(p) => (
            <input {...p} name="upstreamModel" required defaultValue={editing?.upstreamModel} />
          )}
        </Field>
        <Field label="Kind">
          {(p) => (
            <select {...p} name="kind" defaultValue={editing?.kind ?? 'chat'}>
              <option value="chat">chat</option>
              <option value="embedding">embedding</option>
            </select>
          )}
        </Field>
        <Field label="Input $ per M tokens" hint="Empty: unpriced">
          {(p) => (
            <input
              {...p}
              name="inputPrice"
              inputMode="decimal"
              defaultValue={editing?.inputPricePerMTok ?? ''}
            />
          )}
        </Field>
        <Field label="Output $ per M tokens" hint="Empty: unpriced">
          {(p) => (
            <input
              {...p}
              name="outputPrice"
              inputMode="decimal"
              defaultValue={editing?.outputPricePerMTok ?? ''}
            />
          )}
        </Field>
        <Field label="Context window">
          {(p) => (
            <input
              {...p}
              name="contextWindow"
              type="number"
              min={1}
              defaultValue={editing?.contextWindow ?? ''}
            />
          )}
        </Field>
      </div>
      <label className="check">
        <input type="checkbox" name="enabled" defaultChecked={editing?.enabled ?? true} /> enabled
      </label>
      <ErrorBox error={upsert.error} />
      <div className="inline-actions">
        <button type="submit" className="primary" disabled={upsert.isPending}>
          {editing ? 'Save model' : 'Add model'}
        </button>
        {editing ? (
          <button type="button" onClick={onDone}>
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}

export function ModelsPage() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const me = useQuery(trpc.auth.me.queryOptions());
  const list = useQuery(trpc.models.list.queryOptions({ limit: 500 }));
  const [editing, setEditing] = useState<Model | null>(null);
  const del = useMutation(
    trpc.models.delete.mutationOptions({
      onSuccess: () => void qc.invalidateQueries({ queryKey: trpc.models.list.queryKey() }),
    }),
  );
  const isAdmin = me.data?.role === 'admin';
  return (
    <>
      <PageTitle>Model catalog</PageTitle>
      {isAdmin ? <ModelForm editing={editing} onDone={() => setEditing(null)} /> : null}
      <ErrorBox error={list.error ?? del.error} />
      {list.isPending ? (
        <Loading />
      ) : (
        <TableWrap label="Models">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Provider / upstream</th>
                <th scope="col">Kind</th>
                <th scope="col">Input $/M</th>
                <th scope="col">Output $/M</th>
                <th scope="col">Context</th>
                <th scope="col">Enabled</th>
                {isAdmin ? (
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {(list.data?.items ?? []).map((m) => (
                <tr key={m.name}>
                  <td>{m.name}</td>
                  <td>
                    {m.provider} / {m.upstreamModel}
                  </td>
                  <td>{m.kind}</td>
                  <td>{m.inputPricePerMTok ?? 'unpriced'}</td>
                  <td>{m.outputPricePerMTok ?? 'unpriced'}</td>
                  <td>{m.contextWindow ?? '—'}</td>
                  <td>{m.enabled ? 'yes' : 'no'}</td>
                  {isAdmin ? (
                    <td className="inline-actions">
                      <button type="button" onClick={() => setEditing(m)}>
                        Edit<span className="visually-hidden"> {m.name}</span>
                      </button>
                      <button
                        type="button"
                        className="danger"
                        disabled={del.isPending}
                        onClick={() => del.mutate({ name: m.name })}
                      >
                        Delete<span className="visually-hidden"> {m.name}</span>
                      </button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </>
  );
}
