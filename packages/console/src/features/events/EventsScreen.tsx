/** Events: the list, and a new event. */
import { useQuery } from '@tanstack/react-query';
import { CreateEventBody, isValidTimeZone } from '@entrada/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import { Link, useNavigate } from 'react-router';
import { errorText } from '../../api/client.ts';
import { eventsQuery } from '../../api/queries.ts';
import { IfRole } from '../../auth/session.tsx';
import { dateTime, fromLocalInput } from '../../lib/time.ts';
import { validate, type FieldErrors } from '../../lib/validate.ts';
import { Empty, ErrorBox, Modal, TextField } from '../../ui/kit.tsx';
import { useCreateEvent } from './events.queries.ts';

export const EVENT_LABELS = { name: 'Name', starts_at: 'Starts', ends_at: 'Ends', timezone: 'Time zone' };

export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** Checks an event form with the server's schema, plus what the schema cannot say. */
export function checkEventForm(f: { name: string; starts: string; ends: string; timezone: string }): {
  body: Record<string, unknown>;
  errors: FieldErrors;
} {
  const tz = f.timezone.trim();
  const body: Record<string, unknown> = { name: f.name.trim(), timezone: tz };
  const starts = isValidTimeZone(tz) ? fromLocalInput(f.starts, tz) : null;
  const ends = isValidTimeZone(tz) ? fromLocalInput(f.ends, tz) : null;
  if (starts) body.starts_at = starts;
  if (ends) body.ends_at = ends;
  const errors = validate(CreateEventBody, body, EVENT_LABELS);
  if (!isValidTimeZone(tz)) errors.timezone = 'Time zone is not one we know. Use a name like Europe/London.';
  if (!f.starts) errors.starts_at = 'Starts is needed: when the doors open.';
  if (!f.ends) errors.ends_at = 'Ends is needed: when the event is over.';
  if (starts && ends && Date.parse(ends) <= Date.parse(starts)) errors.ends_at = 'Ends must be after Starts.';
  return { body, errors };
}

export function EventsScreen(): ReactNode {
  const events = useQuery(eventsQuery());
  const [open, setOpen] = useState(false);
  return (
    <section>
      <div className="page-head">
        <h1>Events</h1>
        <IfRole role="manager">
          <button type="button" className="primary" onClick={() => setOpen(true)}>
            New event
          </button>
        </IfRole>
      </div>
      <ErrorBox error={events.error ? errorText(events.error) : null} />
      {events.data?.length === 0 && (
        <Empty>No events yet. Create one to add zones, gates, ticket types and staff.</Empty>
      )}
      {events.data && events.data.length > 0 && (
        <table className="simple">
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Starts</th>
              <th scope="col">Ends</th>
              <th scope="col">Time zone</th>
            </tr>
          </thead>
          <tbody>
            {events.data.map((e) => (
              <tr key={e.id}>
                <td>
                  <Link to={`/e/${e.id}/setup`}>{e.name}</Link>
                </td>
                <td>{dateTime(e.starts_at, e.timezone)}</td>
                <td>{dateTime(e.ends_at, e.timezone)}</td>
                <td>{e.timezone}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {open && <NewEventDialog onClose={() => setOpen(false)} />}
    </section>
  );
}

function NewEventDialog({ onClose }: { onClose: () => void }): ReactNode {
  const [name, setName] = useState('');
  const [starts, setStarts] = useState('');
  const [ends, setEnds] = useState('');
  const [timezone, setTimezone] = useState(browserTimeZone());
  const [errors, setErrors] = useState<FieldErrors>({});
  const create = useCreateEvent();
  const navigate = useNavigate();

  function submit(e: FormEvent): void {
    e.preventDefault();
    const { body, errors: errs } = checkEventForm({ name, starts, ends, timezone });
    setErrors(errs);
    if (Object.keys(errs).length) return;
    create.mutate(body, {
      onSuccess: (ev) => {
        onClose();
        navigate(`/e/${ev.id}/setup`);
      },
    });
  }

  return (
    <Modal
      title="New event"
      open
      onOpenChange={(o) => {
        if (!o) onClose();
      }}
    >
      <form onSubmit={submit} noValidate>
        <TextField label="Name" name="event-name" value={name} onChange={setName} error={errors.name} autoFocus />
        <div className="row2">
          <TextField
            label="Starts"
            name="starts"
            type="datetime-local"
            value={starts}
            onChange={setStarts}
            error={errors.starts_at}
          />
          <TextField
            label="Ends"
            name="ends"
            type="datetime-local"
            value={ends}
            onChange={setEnds}
            error={errors.ends_at}
          />
        </div>
        <TextField
          label="Time zone"
          name="timezone"
          value={timezone}
          onChange={setTimezone}
          error={errors.timezone}
          hint="Times on this event are shown and entered in this zone."
        />
        <ErrorBox error={create.error ? errorText(create.error) : null} />
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={create.isPending}>
            Create event
          </button>
        </div>
      </form>
    </Modal>
  );
}
