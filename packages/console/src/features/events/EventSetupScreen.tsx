/** One event's set-up: its details, zones (capacity), gates (which zones) and ticket types (rules in words). */
import { useQuery } from '@tanstack/react-query';
import { CreateGateBody, CreateTicketTypeBody, CreateZoneBody, MANIFEST_TICKET_CODES_RISK } from '@entrada/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import { useParams } from 'react-router';
import { errorText } from '../../api/client.ts';
import { eventQuery } from '../../api/queries.ts';
import type { EventDetail, Gate, TicketType, Zone } from '../../api/types.ts';
import { IfRole } from '../../auth/session.tsx';
import { describeTicketType } from '../../lib/ticket-type-words.ts';
import { dateTime, fromLocalInput, toLocalInput } from '../../lib/time.ts';
import { validate, type FieldErrors } from '../../lib/validate.ts';
import { Empty, ErrorBox, Field, Modal, TextField } from '../../ui/kit.tsx';
import { AuditSection } from './AuditSection.tsx';
import { checkEventForm } from './EventsScreen.tsx';
import { useAddToEvent, useDeleteInEvent, useUpdateEvent, useUpdateInEvent } from './events.queries.ts';

export function EventSetupScreen(): ReactNode {
  const { eventId = '' } = useParams();
  const event = useQuery(eventQuery(eventId));
  if (event.error) return <ErrorBox error={errorText(event.error)} />;
  if (!event.data)
    return (
      <p role="status" className="loading">
        Loading the event…
      </p>
    );
  const ev = event.data;
  return (
    <section>
      <EventHeader ev={ev} />
      <ZonesSection ev={ev} />
      <GatesSection ev={ev} />
      <TicketTypesSection ev={ev} />
      <AuditSection eventId={ev.id} tz={ev.timezone} />
    </section>
  );
}

function EventHeader({ ev }: { ev: EventDetail }): ReactNode {
  const [editing, setEditing] = useState(false);
  return (
    <div className="page-head">
      <div>
        <h1>{ev.name}</h1>
        <p className="muted">
          {dateTime(ev.starts_at, ev.timezone)} – {dateTime(ev.ends_at, ev.timezone)} · {ev.timezone}
        </p>
      </div>
      <IfRole role="manager">
        <button type="button" onClick={() => setEditing(true)}>
          Edit event
        </button>
      </IfRole>
      {editing && <EditEventDialog ev={ev} onClose={() => setEditing(false)} />}
    </div>
  );
}

function EditEventDialog({ ev, onClose }: { ev: EventDetail; onClose: () => void }): ReactNode {
  const [name, setName] = useState(ev.name);
  const [starts, setStarts] = useState(toLocalInput(ev.starts_at, ev.timezone));
  const [ends, setEnds] = useState(toLocalInput(ev.ends_at, ev.timezone));
  const [timezone, setTimezone] = useState(ev.timezone);
  const shipsCodes = ev.settings.manifest_ticket_codes === true;
  const [ticketCodes, setTicketCodes] = useState(shipsCodes);
  const [errors, setErrors] = useState<FieldErrors>({});
  const update = useUpdateEvent(ev.id);
  function submit(e: FormEvent): void {
    e.preventDefault();
    const { body, errors: errs } = checkEventForm({ name, starts, ends, timezone });
    setErrors(errs);
    // Sent only when changed: the other settings are merged by the server, never overwritten from here.
    const withSettings =
      ticketCodes === shipsCodes ? body : { ...body, settings: { manifest_ticket_codes: ticketCodes } };
    if (!Object.keys(errs).length) update.mutate(withSettings, { onSuccess: onClose });
  }
  return (
    <Modal
      title="Edit event"
      open
      onOpenChange={(o) => {
        if (!o) onClose();
      }}
    >
      <form onSubmit={submit} noValidate>
        <TextField label="Name" value={name} onChange={setName} error={errors.name} />
        <div className="row2">
          <TextField
            label="Starts"
            type="datetime-local"
            value={starts}
            onChange={setStarts}
            error={errors.starts_at}
          />
          <TextField label="Ends" type="datetime-local" value={ends} onChange={setEnds} error={errors.ends_at} />
        </div>
        <TextField label="Time zone" value={timezone} onChange={setTimezone} error={errors.timezone} />
        <label className="check">
          <input
            type="checkbox"
            checked={ticketCodes}
            onChange={(e) => setTicketCodes(e.target.checked)}
            aria-describedby="ticket-codes-risk"
          />
          Ship ticket codes in the offline manifest (older scanner apps)
        </label>
        {/* The risk, said where it is turned on (issue 14 §1); the same words as the API docs and the CLI. */}
        <p
          id="ticket-codes-risk"
          className={ticketCodes ? 'warn' : 'muted'}
          role={ticketCodes && !shipsCodes ? 'alert' : undefined}
        >
          {MANIFEST_TICKET_CODES_RISK}
        </p>
        <ErrorBox error={update.error ? errorText(update.error) : null} />
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary">
            Save event
          </button>
        </div>
      </form>
    </Modal>
  );
}

const ZONE_LABELS = { name: 'Zone name', capacity: 'Capacity' };

type CapacityMode = NonNullable<Zone['capacity_mode']>;
/** What each capacity mode does at a gate, in the organiser's words. */
const CAPACITY_MODES: Array<[CapacityMode, string]> = [
  ['off', 'Count only'],
  ['warn', 'Admit and warn when full'],
  ['enforce', 'Refuse entry when full'],
];
const modeWords = (mode: Zone['capacity_mode']): string =>
  CAPACITY_MODES.find(([m]) => m === (mode ?? 'off'))![1].toLowerCase();

function CapacityModeField({
  value,
  onChange,
  name,
}: {
  value: CapacityMode;
  onChange: (m: CapacityMode) => void;
  name: string;
}): ReactNode {
  return (
    <Field label="When full">
      {(id) => (
        <select id={id} name={name} value={value} onChange={(e) => onChange(e.target.value as CapacityMode)}>
          {CAPACITY_MODES.map(([m, words]) => (
            <option key={m} value={m}>
              {words}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

function parseCapacity(text: string): number | null | string {
  const t = text.trim();
  if (t === '') return null;
  return /^\d+$/.test(t) ? Number(t) : t;
}

function ZonesSection({ ev }: { ev: EventDetail }): ReactNode {
  const add = useAddToEvent(ev.id, 'zones');
  const remove = useDeleteInEvent(ev.id, 'zones');
  const [name, setName] = useState('');
  const [capacity, setCapacity] = useState('');
  const [mode, setMode] = useState<CapacityMode>('off');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [editing, setEditing] = useState<Zone | null>(null);
  function submit(e: FormEvent): void {
    e.preventDefault();
    const body = { name: name.trim(), capacity: parseCapacity(capacity), capacity_mode: mode };
    const errs = validate(CreateZoneBody, body, ZONE_LABELS);
    if (typeof body.capacity === 'string')
      errs.capacity = 'Capacity must be a whole number of people, or empty for no limit.';
    setErrors(errs);
    if (!Object.keys(errs).length)
      add.mutate(body, {
        onSuccess: () => {
          setName('');
          setCapacity('');
          setMode('off');
        },
      });
  }
  return (
    <section className="panel" aria-labelledby="zones-h">
      <h2 id="zones-h">Zones</h2>
      <p className="muted">
        Areas people enter. Capacity is the most people inside at once; leave it empty for no limit. When full, a zone
        can only count, admit and warn, or refuse entry at online gates (an exit frees a place). Scanners working
        offline cannot know what other gates admitted: their admissions that take a zone over are kept and flagged for
        you, never refused.
      </p>
      {ev.zones.length === 0 ? (
        <Empty>No zones yet.</Empty>
      ) : (
        <table className="simple">
          <thead>
            <tr>
              <th scope="col">Zone</th>
              <th scope="col">Capacity</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {ev.zones.map((z) => (
              <tr key={z.id}>
                <td>{z.name}</td>
                <td>{z.capacity === null ? 'no limit' : `${z.capacity} · ${modeWords(z.capacity_mode)}`}</td>
                <td className="row-actions">
                  <IfRole role="manager">
                    <button type="button" onClick={() => setEditing(z)} aria-label={`Edit zone ${z.name}`}>
                      Edit
                    </button>
                    <button
                      type="button"
                      className="danger-link"
                      onClick={() => remove.mutate(z.id)}
                      aria-label={`Delete zone ${z.name}`}
                    >
                      Delete
                    </button>
                  </IfRole>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorBox error={remove.error ? errorText(remove.error) : null} />
      <IfRole role="manager">
        <form className="inline-form" onSubmit={submit} noValidate aria-label="Add a zone">
          <TextField label="Zone name" name="zone-name" value={name} onChange={setName} error={errors.name} />
          <TextField
            label="Capacity"
            name="zone-capacity"
            inputMode="numeric"
            value={capacity}
            onChange={setCapacity}
            error={errors.capacity}
          />
          <CapacityModeField name="zone-capacity-mode" value={mode} onChange={setMode} />
          <button type="submit" disabled={add.isPending}>
            Add zone
          </button>
        </form>
        <ErrorBox error={add.error ? errorText(add.error) : null} />
      </IfRole>
      {editing && <EditZoneDialog eventId={ev.id} zone={editing} onClose={() => setEditing(null)} />}
    </section>
  );
}

function EditZoneDialog({ eventId, zone, onClose }: { eventId: string; zone: Zone; onClose: () => void }): ReactNode {
  const update = useUpdateInEvent(eventId, 'zones');
  const [name, setName] = useState(zone.name);
  const [capacity, setCapacity] = useState(zone.capacity === null ? '' : String(zone.capacity));
  const [mode, setMode] = useState<CapacityMode>(zone.capacity_mode ?? 'off');
  const [errors, setErrors] = useState<FieldErrors>({});
  function submit(e: FormEvent): void {
    e.preventDefault();
    const body = { name: name.trim(), capacity: parseCapacity(capacity), capacity_mode: mode };
    const errs = validate(CreateZoneBody, body, ZONE_LABELS);
    if (typeof body.capacity === 'string')
      errs.capacity = 'Capacity must be a whole number of people, or empty for no limit.';
    setErrors(errs);
    if (!Object.keys(errs).length) update.mutate({ id: zone.id, body }, { onSuccess: onClose });
  }
  return (
    <Modal
      title={`Edit zone ${zone.name}`}
      open
      onOpenChange={(o) => {
        if (!o) onClose();
      }}
    >
      <form onSubmit={submit} noValidate>
        <TextField label="Zone name" name="edit-zone-name" value={name} onChange={setName} error={errors.name} />
        <TextField
          label="Capacity"
          name="edit-zone-capacity"
          inputMode="numeric"
          value={capacity}
          onChange={setCapacity}
          error={errors.capacity}
        />
        <CapacityModeField name="edit-zone-capacity-mode" value={mode} onChange={setMode} />
        <ErrorBox error={update.error ? errorText(update.error) : null} />
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary">
            Save zone
          </button>
        </div>
      </form>
    </Modal>
  );
}

function ZonePicker({
  zones,
  value,
  onChange,
  legend,
  error,
}: {
  zones: Zone[];
  value: string[];
  onChange: (v: string[]) => void;
  legend: string;
  error?: string | undefined;
}): ReactNode {
  return (
    <fieldset className="zone-picker" aria-invalid={error ? true : undefined}>
      <legend>{legend}</legend>
      {zones.length === 0 && <span className="muted">Add a zone first.</span>}
      {zones.map((z) => (
        <label key={z.id} className="check">
          <input
            type="checkbox"
            checked={value.includes(z.id)}
            onChange={(e) => onChange(e.target.checked ? [...value, z.id] : value.filter((x) => x !== z.id))}
          />
          {z.name}
        </label>
      ))}
      {error && (
        <span className="field-error" role="alert">
          {error}
        </span>
      )}
    </fieldset>
  );
}

function GatesSection({ ev }: { ev: EventDetail }): ReactNode {
  const add = useAddToEvent(ev.id, 'gates');
  const remove = useDeleteInEvent(ev.id, 'gates');
  const [editing, setEditing] = useState<Gate | null>(null);
  const [name, setName] = useState('');
  const [zoneIds, setZoneIds] = useState<string[]>([]);
  const [errors, setErrors] = useState<FieldErrors>({});
  const zoneName = new Map(ev.zones.map((z) => [z.id, z.name]));
  function submit(e: FormEvent): void {
    e.preventDefault();
    const body = { name: name.trim(), zone_ids: zoneIds };
    const errs = validate(CreateGateBody, body, { name: 'Gate name', zone_ids: 'Zones' });
    if (zoneIds.length === 0) errs.zone_ids = 'Choose at least one zone this gate lets people into.';
    setErrors(errs);
    if (!Object.keys(errs).length)
      add.mutate(body, {
        onSuccess: () => {
          setName('');
          setZoneIds([]);
        },
      });
  }
  return (
    <section className="panel" aria-labelledby="gates-h">
      <h2 id="gates-h">Gates</h2>
      <p className="muted">Where scanners stand, and the zones each gate lets people into.</p>
      {ev.gates.length === 0 ? (
        <Empty>No gates yet.</Empty>
      ) : (
        <table className="simple">
          <thead>
            <tr>
              <th scope="col">Gate</th>
              <th scope="col">Lets into</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {ev.gates.map((g) => (
              <tr key={g.id}>
                <td>{g.name}</td>
                <td>{g.zone_ids.map((id) => zoneName.get(id) ?? '?').join(', ')}</td>
                <td className="row-actions">
                  <IfRole role="manager">
                    <button type="button" onClick={() => setEditing(g)} aria-label={`Edit gate ${g.name}`}>
                      Edit
                    </button>
                    <button
                      type="button"
                      className="danger-link"
                      onClick={() => remove.mutate(g.id)}
                      aria-label={`Delete gate ${g.name}`}
                    >
                      Delete
                    </button>
                  </IfRole>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorBox error={remove.error ? errorText(remove.error) : null} />
      <IfRole role="manager">
        <form className="inline-form" onSubmit={submit} noValidate aria-label="Add a gate">
          <TextField label="Gate name" name="gate-name" value={name} onChange={setName} error={errors.name} />
          <ZonePicker
            legend="Lets into"
            zones={ev.zones}
            value={zoneIds}
            onChange={setZoneIds}
            error={errors.zone_ids}
          />
          <button type="submit" disabled={add.isPending}>
            Add gate
          </button>
        </form>
        <ErrorBox error={add.error ? errorText(add.error) : null} />
      </IfRole>
      {editing && <EditGateDialog ev={ev} gate={editing} onClose={() => setEditing(null)} />}
    </section>
  );
}

function EditGateDialog({ ev, gate, onClose }: { ev: EventDetail; gate: Gate; onClose: () => void }): ReactNode {
  const update = useUpdateInEvent(ev.id, 'gates');
  const [name, setName] = useState(gate.name);
  const [zoneIds, setZoneIds] = useState<string[]>(gate.zone_ids);
  const [errors, setErrors] = useState<FieldErrors>({});
  function submit(e: FormEvent): void {
    e.preventDefault();
    const body = { name: name.trim(), zone_ids: zoneIds };
    const errs = validate(CreateGateBody, body, { name: 'Gate name', zone_ids: 'Zones' });
    if (zoneIds.length === 0) errs.zone_ids = 'Choose at least one zone this gate lets people into.';
    setErrors(errs);
    if (!Object.keys(errs).length) update.mutate({ id: gate.id, body }, { onSuccess: onClose });
  }
  return (
    <Modal
      title={`Edit gate ${gate.name}`}
      open
      onOpenChange={(o) => {
        if (!o) onClose();
      }}
    >
      <form onSubmit={submit} noValidate>
        <TextField label="Gate name" value={name} onChange={setName} error={errors.name} />
        <ZonePicker legend="Lets into" zones={ev.zones} value={zoneIds} onChange={setZoneIds} error={errors.zone_ids} />
        <ErrorBox error={update.error ? errorText(update.error) : null} />
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary">
            Save gate
          </button>
        </div>
      </form>
    </Modal>
  );
}

function TicketTypesSection({ ev }: { ev: EventDetail }): ReactNode {
  const add = useAddToEvent(ev.id, 'ticket-types');
  const update = useUpdateInEvent(ev.id, 'ticket-types');
  const remove = useDeleteInEvent(ev.id, 'ticket-types');
  const [editing, setEditing] = useState<TicketType | null>(null);
  const [formKey, setFormKey] = useState(0);
  const zoneName = new Map(ev.zones.map((z) => [z.id, z.name]));
  return (
    <section className="panel" aria-labelledby="types-h">
      <h2 id="types-h">Ticket types</h2>
      {ev.ticket_types.length === 0 ? (
        <Empty>No ticket types yet.</Empty>
      ) : (
        <table className="simple">
          <thead>
            <tr>
              <th scope="col">Ticket type</th>
              <th scope="col">Rules</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {ev.ticket_types.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td data-testid="type-rules">{describeTicketType(t, zoneName, ev.timezone)}</td>
                <td className="row-actions">
                  <IfRole role="manager">
                    <button type="button" onClick={() => setEditing(t)} aria-label={`Edit ticket type ${t.name}`}>
                      Edit
                    </button>
                    <button
                      type="button"
                      className="danger-link"
                      onClick={() => remove.mutate(t.id)}
                      aria-label={`Delete ticket type ${t.name}`}
                    >
                      Delete
                    </button>
                  </IfRole>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorBox error={remove.error ? errorText(remove.error) : null} />
      <IfRole role="manager">
        <TicketTypeForm
          key={formKey}
          ev={ev}
          label="Add a ticket type"
          button="Add ticket type"
          pending={add.isPending}
          onSave={(body) => add.mutate(body, { onSuccess: () => setFormKey((k) => k + 1) })}
        />
        <ErrorBox error={add.error ? errorText(add.error) : null} />
      </IfRole>
      {editing && (
        <Modal
          title={`Edit ticket type ${editing.name}`}
          open
          onOpenChange={(o) => {
            if (!o) setEditing(null);
          }}
          wide
        >
          <TicketTypeForm
            ev={ev}
            initial={editing}
            label="Edit ticket type"
            button="Save ticket type"
            pending={update.isPending}
            onSave={(body) => update.mutate({ id: editing.id, body }, { onSuccess: () => setEditing(null) })}
          />
          <ErrorBox error={update.error ? errorText(update.error) : null} />
        </Modal>
      )}
    </section>
  );
}

/** A ticket type's fields, its rules in words as they are typed, checked with the server's schema. */
function TicketTypeForm(props: {
  ev: EventDetail;
  initial?: TicketType;
  label: string;
  button: string;
  pending: boolean;
  onSave: (body: Record<string, unknown>) => void;
}): ReactNode {
  const { ev, initial } = props;
  const [name, setName] = useState(initial?.name ?? '');
  const [zoneIds, setZoneIds] = useState<string[]>(initial?.zone_ids ?? []);
  const [maxScans, setMaxScans] = useState(String(initial?.max_scans ?? 1));
  const [reentry, setReentry] = useState(initial?.allow_reentry ?? false);
  const [from, setFrom] = useState(toLocalInput(initial?.valid_from, ev.timezone));
  const [until, setUntil] = useState(toLocalInput(initial?.valid_until, ev.timezone));
  const [errors, setErrors] = useState<FieldErrors>({});
  const zoneName = new Map(ev.zones.map((z) => [z.id, z.name]));
  const draft = {
    name: name.trim(),
    zone_ids: zoneIds,
    max_scans: /^\d+$/.test(maxScans) ? Number(maxScans) : maxScans,
    allow_reentry: reentry,
    valid_from: fromLocalInput(from, ev.timezone),
    valid_until: fromLocalInput(until, ev.timezone),
  };
  function submit(e: FormEvent): void {
    e.preventDefault();
    const errs = validate(CreateTicketTypeBody, draft, {
      name: 'Ticket type name',
      zone_ids: 'Zones',
      max_scans: 'Entries',
      allow_reentry: 'Re-entry',
      valid_from: 'Valid from',
      valid_until: 'Valid until',
    });
    if (typeof draft.max_scans === 'string') errs.max_scans = 'Entries must be a whole number, 1 or more.';
    if (zoneIds.length === 0) errs.zone_ids = 'Choose at least one zone this ticket lets people into.';
    if (draft.valid_from && draft.valid_until && draft.valid_until <= draft.valid_from)
      errs.valid_until = 'Valid until must be after Valid from.';
    setErrors(errs);
    if (!Object.keys(errs).length) props.onSave(draft);
  }
  return (
    <form className="type-form" onSubmit={submit} noValidate aria-label={props.label}>
      <div className="row3">
        <TextField label="Ticket type name" name="type-name" value={name} onChange={setName} error={errors.name} />
        <TextField
          label="Entries"
          name="type-max-scans"
          inputMode="numeric"
          value={maxScans}
          onChange={setMaxScans}
          error={errors.max_scans}
        />
        <Field label="Re-entry">
          {(id) => (
            <select
              id={id}
              name="type-reentry"
              value={reentry ? 'yes' : 'no'}
              onChange={(e) => setReentry(e.target.value === 'yes')}
            >
              <option value="no">No re-entry</option>
              <option value="yes">Re-entry after exit</option>
            </select>
          )}
        </Field>
      </div>
      <div className="row2">
        <TextField
          label={`Valid from (${ev.timezone})`}
          name="type-from"
          type="datetime-local"
          value={from}
          onChange={setFrom}
          error={errors.valid_from}
        />
        <TextField
          label={`Valid until (${ev.timezone})`}
          name="type-until"
          type="datetime-local"
          value={until}
          onChange={setUntil}
          error={errors.valid_until}
        />
      </div>
      <ZonePicker legend="Lets into" zones={ev.zones} value={zoneIds} onChange={setZoneIds} error={errors.zone_ids} />
      <p className="words" aria-live="polite">
        In words:{' '}
        {typeof draft.max_scans === 'number' && draft.max_scans > 0
          ? describeTicketType({ ...draft, max_scans: draft.max_scans }, zoneName, ev.timezone)
          : '—'}
      </p>
      <button type="submit" disabled={props.pending}>
        {props.button}
      </button>
    </form>
  );
}
