/** Staff of an event: gate stewards who log in on scanners with a username and PIN. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { CreateStaffBody } from '@entrada/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import { useParams } from 'react-router';
import { api, errorText } from '../../api/client.ts';
import { eventQuery, keys, staffQuery } from '../../api/queries.ts';
import { IfRole } from '../../auth/session.tsx';
import { dateTime } from '../../lib/time.ts';
import { validate, type FieldErrors } from '../../lib/validate.ts';
import { Empty, ErrorBox, Modal, StatusBadge, TextField } from '../../ui/kit.tsx';
import type { StaffView } from '../../api/types.ts';

const LABELS = { username: 'Username', name: 'Name', pin: 'PIN' };

export function StaffScreen(): ReactNode {
  const { eventId = '' } = useParams();
  const event = useQuery(eventQuery(eventId));
  const staff = useQuery(staffQuery(eventId));
  const qc = useQueryClient();
  const [username, setUsername] = useState('');
  const [name, setName] = useState('');
  const [pin, setPin] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const add = useMutation({
    mutationFn: (body: Record<string, unknown>) => api.post(`/api/v1/events/${eventId}/staff`, body),
    onSuccess: () => {
      setUsername('');
      setName('');
      setPin('');
      return qc.invalidateQueries({ queryKey: keys.staff(eventId) });
    },
  });
  const deactivate = useMutation({
    mutationFn: (id: string) => api.post(`/api/v1/events/${eventId}/staff/${id}/deactivate`),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.staff(eventId) }),
  });
  const [changing, setChanging] = useState<StaffView | null>(null);
  const tz = event.data?.timezone ?? 'UTC';
  function submit(e: FormEvent): void {
    e.preventDefault();
    const body = { username: username.trim(), name: name.trim(), pin };
    const errs = validate(CreateStaffBody, body, LABELS);
    if (errs.pin) errs.pin = 'PIN must be 4 to 12 digits.';
    if (errs.username && body.username)
      errs.username = 'Username may use letters, digits, dots, dashes and underscores.';
    setErrors(errs);
    if (!Object.keys(errs).length) add.mutate(body);
  }
  return (
    <section>
      <div className="page-head">
        <h1>Staff{event.data ? ` · ${event.data.name}` : ''}</h1>
      </div>
      <p className="muted">Stewards log in on a paired scanner with their username and PIN.</p>
      <ErrorBox error={staff.error ? errorText(staff.error) : null} />
      {staff.data?.length === 0 && <Empty>No staff yet.</Empty>}
      {staff.data && staff.data.length > 0 && (
        <table className="simple">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Username</th>
              <th scope="col">Status</th>
              <th scope="col">Added</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {staff.data.map((s) => (
              <tr key={s.id}>
                <td>{s.name}</td>
                <td>{s.username}</td>
                <td>
                  <StatusBadge status={s.active ? 'active' : 'inactive'} />
                </td>
                <td>{dateTime(s.created_at, tz)}</td>
                <td className="row-actions">
                  {s.active && (
                    <IfRole role="manager">
                      <button type="button" onClick={() => setChanging(s)} aria-label={`Change PIN of ${s.name}`}>
                        Change PIN
                      </button>
                      <button
                        type="button"
                        className="danger-link"
                        onClick={() => deactivate.mutate(s.id)}
                        aria-label={`Deactivate ${s.name}`}
                      >
                        Deactivate
                      </button>
                    </IfRole>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorBox error={deactivate.error ? errorText(deactivate.error) : null} />
      <IfRole role="manager">
        <form className="inline-form panel" onSubmit={submit} noValidate aria-label="Add a staff member">
          <TextField label="Name" name="staff-name" value={name} onChange={setName} error={errors.name} />
          <TextField
            label="Username"
            name="staff-username"
            value={username}
            onChange={setUsername}
            error={errors.username}
            autoComplete="off"
          />
          <TextField
            label="PIN"
            name="staff-pin"
            type="password"
            inputMode="numeric"
            value={pin}
            onChange={setPin}
            error={errors.pin}
            autoComplete="new-password"
            hint="4 to 12 digits"
          />
          <button type="submit" disabled={add.isPending}>
            Add staff member
          </button>
        </form>
        <ErrorBox error={add.error ? errorText(add.error) : null} />
      </IfRole>
      {changing && <ChangePinDialog eventId={eventId} staff={changing} onClose={() => setChanging(null)} />}
    </section>
  );
}

/** A new PIN for a steward (PATCH staff). */
function ChangePinDialog({
  eventId,
  staff,
  onClose,
}: {
  eventId: string;
  staff: StaffView;
  onClose: () => void;
}): ReactNode {
  const qc = useQueryClient();
  const [pin, setPin] = useState('');
  const [error, setError] = useState<string | undefined>();
  const change = useMutation({
    mutationFn: (body: { pin: string }) => api.patch(`/api/v1/events/${eventId}/staff/${staff.id}`, body),
    onSuccess: () => {
      onClose();
      return qc.invalidateQueries({ queryKey: keys.staff(eventId) });
    },
  });
  function submit(e: FormEvent): void {
    e.preventDefault();
    if (!/^[0-9]{4,12}$/.test(pin)) return setError('PIN must be 4 to 12 digits.');
    setError(undefined);
    change.mutate({ pin });
  }
  return (
    <Modal
      title={`New PIN for ${staff.name}`}
      open
      onOpenChange={(o) => {
        if (!o) onClose();
      }}
    >
      <form onSubmit={submit} noValidate>
        <TextField
          label="New PIN"
          name="new-pin"
          type="password"
          inputMode="numeric"
          value={pin}
          onChange={setPin}
          error={error}
          autoComplete="new-password"
          hint="4 to 12 digits. Tell the steward in person."
        />
        <ErrorBox error={change.error ? errorText(change.error) : null} />
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary">
            Save PIN
          </button>
        </div>
      </form>
    </Modal>
  );
}
