import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { dateTime } from '../format.ts';
import { useTRPC } from '../trpc.ts';
import { ErrorBox, Field, Loading, PageTitle, TableWrap } from '../ui.tsx';

export function UsersPage() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const me = useQuery(trpc.auth.me.queryOptions());
  const list = useQuery(trpc.users.list.queryOptions({ limit: 500 }));
  const [generated, setGenerated] = useState<{ email: string; password: string } | null>(null);
  const invalidate = () => qc.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
  const create = useMutation(
    trpc.users.create.mutationOptions({
      onSuccess: (u) => {
        setGenerated(u.password ? { email: u.email, password: u.password } : null);
        void invalidate();
      },
    }),
  );
  const update = useMutation(
    trpc.users.update.mutationOptions({ onSuccess: () => void invalidate() }),
  );

  const onCreate = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const password = String(f.get('password') ?? '');
    create.mutate(
      {
        email: String(f.get('email')),
        role: f.get('role') === 'admin' ? 'admin' : 'member',
        ...(password ? { password } : {}),
      },
      { onSuccess: () => form.reset() },
    );
  };

  if (me.data && me.data.role !== 'admin') return <p>Only admins manage users.</p>;
  return (
    <>
      <PageTitle>Users</PageTitle>
      <form className="card" onSubmit={onCreate} aria-labelledby="create-user-title">
        <h2 id="create-user-title">Add a user</h2>
        <div className="form-row">
          <Field label="Email">{(p) => <input {...p} name="email" type="email" required />}</Field>
          <Field label="Role">
            {(p) => (
              <select {...p} name="role" defaultValue="member">
                <option value="member">member</option>
                <option value="admin">admin</option>
              </select>
            )}
          </Field>
          <Field label="Password (optional)" hint="Leave empty to generate one (shown once).">
            {(p) => (
              <input
                {...p}
                name="password"
                type="password"
                minLength={12}
                autoComplete="new-password"
              />
            )}
          </Field>
        </div>
        <ErrorBox error={create.error} />
        <button type="submit" className="primary" disabled={create.isPending}>
          Add user
        </button>
        {generated ? (
          <p role="status">
            Password for {generated.email} (shown once): <code>{generated.password}</code>
          </p>
        ) : null}
      </form>
      <ErrorBox error={list.error ?? update.error} />
      {list.isPending ? (
        <Loading />
      ) : (
        <TableWrap label="Users">
          <table>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {(list.data?.items ?? []).map((u) => {
                const self = u.id === me.data?.id;
                return (
                  <tr key={u.id}>
                    <td>{u.email}</td>
                    <td>
                      <label className="visually-hidden" htmlFor={`role-${u.id}`}>
                        Role of {u.email}
                      </label>
                      <select
                        id={`role-${u.id}`}
                        value={u.role}
                        disabled={self || update.isPending}
                        onChange={(e) =>
                          update.mutate({
                            id: u.id,
                            role: e.target.value === 'admin' ? 'admin' : 'member',
                          })
                        }
                      >
                        <option value="member">member</option>
                        <option value="admin">admin</option>
                      </select>
                    </td>
                    <td>{u.disabled ? 'disabled' : 'active'}</td>
                    <td>{dateTime(u.createdAt)}</td>
                    <td>
                      {self ? (
                        <span className="muted">you</span>
                      ) : (
                        <button
                          type="button"
                          disabled={update.isPending}
                          onClick={() => update.mutate({ id: u.id, disabled: !u.disabled })}
                        >
                          {u.disabled ? 'Enable' : 'Disable'}
                          <span className="visually-hidden"> {u.email}</span>
                        </button>
                      )}
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
