/** Users and API tokens (owner only): add, change role, deactivate; tokens made (shown once) and revoked. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { CreateAdminTokenBody, ROLES, type Role } from '@entrada/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import { Navigate } from 'react-router';
import { api, ApiError, errorText } from '../../api/client.ts';
import { keys, tokensQuery, usersQuery } from '../../api/queries.ts';
import type { CreatedAdminTokenResponse } from '@entrada/core';
import type { UserView } from '../../api/types.ts';
import { useCan, useSession } from '../../auth/session.tsx';
import { browserTimeZone } from '../events/EventsScreen.tsx';
import { dateTime } from '../../lib/time.ts';
import { validate, type FieldErrors } from '../../lib/validate.ts';
import { Empty, ErrorBox, Field, StatusBadge, TextField } from '../../ui/kit.tsx';

const ROLE_WORDS: Record<Role, string> = {
  viewer: 'Viewer — sees everything, changes nothing',
  supervisor: 'Supervisor — live operations: tickets, devices, pairing',
  manager: 'Manager — events, set-up, tickets, devices, staff',
  owner: 'Owner — everything, users and tokens included',
};

export function UsersScreen(): ReactNode {
  if (!useCan('owner')) return <Navigate to="/events" replace />;
  return (
    <section>
      <div className="page-head">
        <h1>Users &amp; API tokens</h1>
      </div>
      <Users />
      <Tokens />
    </section>
  );
}

function Users(): ReactNode {
  const users = useQuery(usersQuery());
  const notOffered = users.error instanceof ApiError && users.error.status === 404;
  const qc = useQueryClient();
  const me = useSession().user;
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [errors, setErrors] = useState<FieldErrors>({});
  const add = useMutation({
    mutationFn: (body: Record<string, unknown>) => api.post<UserView>('/api/v1/users', body),
    onSuccess: () => {
      setEmail('');
      setName('');
      setPassword('');
      return qc.invalidateQueries({ queryKey: keys.users });
    },
  });
  const update = useMutation({
    mutationFn: ({ id, body }: { id: string; body: Record<string, unknown> }) =>
      api.patch<UserView>(`/api/v1/users/${id}`, body),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.users }),
  });
  function submit(e: FormEvent): void {
    e.preventDefault();
    const errs: FieldErrors = {};
    if (!/^[^@\s]+@[^@\s]+$/.test(email.trim())) errs.email = 'Email must be an address like ana@example.org.';
    if (!name.trim()) errs.name = 'Name cannot be empty.';
    if (password.length < 10) errs.password = 'Password needs at least 10 characters.';
    setErrors(errs);
    if (!Object.keys(errs).length) add.mutate({ email: email.trim(), name: name.trim(), password, role });
  }
  return (
    <section className="panel" aria-labelledby="users-h">
      <h2 id="users-h">Users</h2>
      {notOffered ? (
        <p className="empty">
          Organiser accounts need a newer Entrada server. Until then, sign in with an API token; the tokens below work
          today.
        </p>
      ) : (
        <ErrorBox error={users.error ? errorText(users.error) : null} />
      )}
      {users.data?.length === 0 && <Empty>No users yet.</Empty>}
      {users.data && users.data.length > 0 && (
        <table className="simple">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {users.data.map((u) => (
              <tr key={u.id}>
                <td>{u.name}</td>
                <td>{u.email}</td>
                <td>
                  <select
                    aria-label={`Role of ${u.name}`}
                    value={u.role}
                    disabled={u.id === me.id}
                    onChange={(e) => update.mutate({ id: u.id, body: { role: e.target.value } })}
                  >
                    {ROLES.map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                </td>
                <td>
                  <StatusBadge status={u.active === false ? 'inactive' : 'active'} />
                </td>
                <td className="row-actions">
                  {u.id !== me.id &&
                    (u.active === false ? (
                      <button
                        type="button"
                        onClick={() => update.mutate({ id: u.id, body: { active: true } })}
                        aria-label={`Reactivate ${u.name}`}
                      >
                        Reactivate
                      </button>
                    ) : (
                      <button
                        type="button"
                        className="danger-link"
                        onClick={() => update.mutate({ id: u.id, body: { active: false } })}
                        aria-label={`Deactivate ${u.name}`}
                      >
                        Deactivate
                      </button>
                    ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorBox error={update.error ? errorText(update.error) : null} />
      {!notOffered && (
        <form className="inline-form" onSubmit={submit} noValidate aria-label="Add a user">
          <TextField label="Name" name="user-name" value={name} onChange={setName} error={errors.name} />
          <TextField
            label="Email"
            name="user-email"
            type="email"
            value={email}
            onChange={setEmail}
            error={errors.email}
          />
          <TextField
            label="First password"
            name="user-password"
            type="password"
            value={password}
            onChange={setPassword}
            error={errors.password}
            autoComplete="new-password"
          />
          <Field label="Role">
            {(id) => (
              <select id={id} value={role} onChange={(e) => setRole(e.target.value as Role)}>
                {ROLES.map((r) => (
                  <option key={r} value={r}>
                    {ROLE_WORDS[r]}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <button type="submit" disabled={add.isPending}>
            Add user
          </button>
        </form>
      )}
      <ErrorBox error={add.error ? errorText(add.error) : null} />
    </section>
  );
}

function Tokens(): ReactNode {
  const tokens = useQuery(tokensQuery());
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [shown, setShown] = useState<{ name: string; token: string } | null>(null);
  const tz = browserTimeZone();
  const create = useMutation({
    mutationFn: (body: { name: string }) => api.post<CreatedAdminTokenResponse>('/api/v1/tokens', body),
    onSuccess: (t) => {
      setShown({ name: t.name, token: t.token });
      setName('');
      return qc.invalidateQueries({ queryKey: keys.tokens });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api.delete(`/api/v1/tokens/${id}`),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.tokens }),
  });
  function submit(e: FormEvent): void {
    e.preventDefault();
    const body = { name: name.trim() };
    const errs = validate(CreateAdminTokenBody, body, { name: 'Token name' });
    setErrors(errs);
    if (!Object.keys(errs).length) create.mutate(body);
  }
  return (
    <section className="panel" aria-labelledby="tokens-h">
      <h2 id="tokens-h">API tokens</h2>
      <p className="muted">For scripts and the command line. A token is shown once, when it is made. Times in {tz}.</p>
      <ErrorBox error={tokens.error ? errorText(tokens.error) : null} />
      {shown && (
        <div className="once" role="status">
          <p>Token “{shown.name}”: copy it now, it will not be shown again.</p>
          <code data-testid="new-token">{shown.token}</code>
          <button type="button" onClick={() => setShown(null)}>
            I have copied it
          </button>
        </div>
      )}
      {tokens.data && tokens.data.length > 0 && (
        <table className="simple">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Made</th>
              <th scope="col">Last used</th>
              <th scope="col">Status</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.data.map((t) => (
              <tr key={t.id}>
                <td>
                  {t.name}
                  {t.current ? ' (this session)' : ''}
                </td>
                <td>{dateTime(t.created_at, tz)}</td>
                <td>{dateTime(t.last_used_at, tz)}</td>
                <td>
                  <StatusBadge status={t.revoked_at ? 'revoked' : 'active'} />
                </td>
                <td className="row-actions">
                  {!t.revoked_at && !t.current && (
                    <button
                      type="button"
                      className="danger-link"
                      onClick={() => revoke.mutate(t.id)}
                      aria-label={`Revoke token ${t.name}`}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorBox error={revoke.error ? errorText(revoke.error) : null} />
      <form className="inline-form" onSubmit={submit} noValidate aria-label="Make a token">
        <TextField
          label="Token name"
          name="token-name"
          value={name}
          onChange={setName}
          error={errors.name}
          hint="Who or what uses it, e.g. box office laptop"
        />
        <button type="submit" disabled={create.isPending}>
          Make token
        </button>
      </form>
      <ErrorBox error={create.error ? errorText(create.error) : null} />
    </section>
  );
}
