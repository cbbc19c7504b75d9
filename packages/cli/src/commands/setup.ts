/**
 * Changing an event's set-up from the command line (issue #12, section 4):
 * events, zones, gates, ticket types, devices; ticket search, unblock and
 * reinstate; the audit log. Zones, gates and types are named by id or by
 * name. `json: true` prints the server's answer as JSON for scripts; people
 * get a line or a table, with times in the event's time zone.
 */
import { MANIFEST_TICKET_CODES_RISK, zoneOffsetMs } from '@entrada/core';
import type {
  AuditEntry,
  AuditPage,
  EventChanged,
  EventDetail,
  GateView,
  NewGateView,
  TicketDetail,
  TicketSearchPage,
  TicketTypeView,
  TicketView,
  ZoneView,
} from '../api-types.ts';
import { ApiError, CliError } from '../errors.ts';
import { explainEventError, fetchEvent } from '../events-api.ts';
import { table } from '../format.ts';
import { HttpClient, requireUuid, type Connection } from '../http-client.ts';
import type { Output } from '../output.ts';

interface Base {
  connection: Connection;
  json?: boolean | undefined;
}
interface InEvent extends Base {
  eventId: string;
}

/** "2026-08-01 19:00" in the event's zone (the zone is in the table's header or the event line). */
export function localTime(iso: string | null | undefined, timezone: string): string {
  if (!iso) return '';
  const ms = Date.parse(iso);
  return new Date(ms + zoneOffsetMs(ms, timezone)).toISOString().slice(0, 16).replace('T', ' ');
}

const admin = (c: Connection): HttpClient => new HttpClient(c, 'admin');

function emit(output: Output, json: boolean | undefined, value: unknown, human: () => void): void {
  if (json) output.out(JSON.stringify(value, null, 2));
  else human();
}

type Kind = 'zone' | 'gate' | 'ticket type';
const LIST_OF: Record<Kind, (e: EventDetail) => Array<{ id: string; name: string }>> = {
  zone: (e) => e.zones,
  gate: (e) => e.gates,
  'ticket type': (e) => e.ticket_types,
};

/** A zone, gate or type of the event by id or by name (any case); else an error listing what there is. */
export function resolve(e: EventDetail, kind: Kind, value: string): { id: string; name: string } {
  const list = LIST_OF[kind](e);
  const hit =
    list.find((x) => x.id === value) ?? list.filter((x) => x.name.toLowerCase() === value.trim().toLowerCase()).at(0);
  if (hit) return hit;
  const names = list.map((x) => `"${x.name}"`).join(', ');
  throw new CliError(
    `no ${kind} "${value}" in event ${e.name}; ${list.length === 0 ? `it has no ${kind}s yet` : `its ${kind}s are ${names}`} (\`entrada events show ${e.id}\` lists them with their ids)`,
  );
}

function zoneIds(e: EventDetail, list: string | undefined): string[] | undefined {
  if (list === undefined) return undefined;
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((z) => resolve(e, 'zone', z).id);
}

/** `--capacity 500` or `--capacity none`. */
function capacity(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  if (/^(none|unlimited)$/i.test(text)) return null;
  if (!/^\d{1,8}$/.test(text))
    throw new CliError(`--capacity must be a whole number of people or "none", got "${text}"`);
  return Number(text);
}

async function call<T>(eventId: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw explainEventError(err, eventId);
  }
}

function noChange(body: Record<string, unknown>, options: string): void {
  if (Object.values(body).every((v) => v === undefined))
    throw new CliError(`nothing to change: give at least one of ${options}`);
}

const defined = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

// --- events ---

export async function updateEvent(
  opts: InEvent & {
    name?: string;
    startsAt?: string;
    endsAt?: string;
    timezone?: string;
    duplicateWindowS?: number;
    manifestTicketCodes?: boolean;
  },
  output: Output,
): Promise<unknown> {
  requireUuid(opts.eventId, '<event-id>', 'an event');
  const settings = defined({
    duplicate_window_s: opts.duplicateWindowS,
    manifest_ticket_codes: opts.manifestTicketCodes,
  });
  const body = defined({
    name: opts.name,
    starts_at: opts.startsAt,
    ends_at: opts.endsAt,
    timezone: opts.timezone,
    settings: Object.keys(settings).length === 0 ? undefined : settings,
  });
  noChange(body, '--name, --starts, --ends, --timezone, --duplicate-window, --manifest-ticket-codes');
  // Said before it is turned on, on stderr (a --json answer stays parseable): the risk the organiser takes.
  if (opts.manifestTicketCodes === true) output.err(`warning: ${MANIFEST_TICKET_CODES_RISK}`);
  const r = await call(opts.eventId, () =>
    admin(opts.connection).request<EventChanged>('PATCH', `/api/v1/events/${opts.eventId}`, body),
  );
  emit(output, opts.json, r, () =>
    output.out(
      `Updated event "${r.name}": ${localTime(r.starts_at, r.timezone)} → ${localTime(r.ends_at, r.timezone)} (${r.timezone}).`,
    ),
  );
  return r;
}

// --- zones, gates, ticket types ---

export async function addZone(opts: InEvent & { name: string; capacity?: string }, output: Output): Promise<unknown> {
  requireUuid(opts.eventId, '--event', 'an event');
  const r = await call(opts.eventId, () =>
    admin(opts.connection).post<ZoneView>(
      `/api/v1/events/${opts.eventId}/zones`,
      defined({ name: opts.name, capacity: capacity(opts.capacity) }),
    ),
  );
  emit(output, opts.json, r, () => output.out(`Added zone "${r.name}" (${r.id}).`));
  return r;
}

export async function updateZone(
  opts: InEvent & { zone: string; name?: string; capacity?: string },
  output: Output,
): Promise<unknown> {
  const client = admin(opts.connection);
  const e = await fetchEvent(client, opts.eventId);
  const zone = resolve(e, 'zone', opts.zone);
  const body = defined({ name: opts.name, capacity: capacity(opts.capacity) });
  noChange(body, '--name, --capacity');
  const r = await client.request<ZoneView>('PATCH', `/api/v1/events/${e.id}/zones/${zone.id}`, body);
  emit(output, opts.json, r, () => output.out(`Updated zone "${r.name}": capacity ${r.capacity ?? 'none'}.`));
  return r;
}

export async function addGate(opts: InEvent & { name: string; zones?: string }, output: Output): Promise<unknown> {
  const client = admin(opts.connection);
  const e = await fetchEvent(client, opts.eventId);
  const r = await client.post<NewGateView>(`/api/v1/events/${e.id}/gates`, {
    name: opts.name,
    zone_ids: zoneIds(e, opts.zones) ?? [],
  });
  emit(output, opts.json, r, () => output.out(`Added gate "${r.name}" (${r.id}).`));
  return r;
}

export async function updateGate(
  opts: InEvent & { gate: string; name?: string; zones?: string; closed?: boolean },
  output: Output,
): Promise<unknown> {
  const client = admin(opts.connection);
  const e = await fetchEvent(client, opts.eventId);
  const gate = resolve(e, 'gate', opts.gate);
  const body = defined({ name: opts.name, zone_ids: zoneIds(e, opts.zones), closed: opts.closed });
  noChange(body, '--name, --zones, --closed, --open');
  const r = await client.request<GateView>('PATCH', `/api/v1/events/${e.id}/gates/${gate.id}`, body);
  emit(output, opts.json, r, () =>
    output.out(
      `Updated gate "${r.name}"${r.closed ? ' (closed)' : ''}. Scanners get the change with their next download.`,
    ),
  );
  return r;
}

export interface TypeOptions {
  name?: string;
  zones?: string;
  maxScans?: number;
  reentry?: boolean;
  validFrom?: string;
  validUntil?: string;
}

function typeBody(e: EventDetail, o: TypeOptions): Record<string, unknown> {
  const window = (v: string | undefined): string | null | undefined =>
    v === undefined ? undefined : /^none$/i.test(v) ? null : v;
  return defined({
    name: o.name,
    zone_ids: zoneIds(e, o.zones),
    max_scans: o.maxScans,
    allow_reentry: o.reentry,
    valid_from: window(o.validFrom),
    valid_until: window(o.validUntil),
  });
}

export async function addTicketType(opts: InEvent & TypeOptions & { name: string }, output: Output): Promise<unknown> {
  const client = admin(opts.connection);
  const e = await fetchEvent(client, opts.eventId);
  const r = await client.post<TicketTypeView>(`/api/v1/events/${e.id}/ticket-types`, {
    zone_ids: [],
    ...typeBody(e, opts),
  });
  emit(output, opts.json, r, () => output.out(`Added ticket type "${r.name}" (${r.id}).`));
  return r;
}

export async function updateTicketType(
  opts: InEvent & TypeOptions & { type: string },
  output: Output,
): Promise<unknown> {
  const client = admin(opts.connection);
  const e = await fetchEvent(client, opts.eventId);
  const type = resolve(e, 'ticket type', opts.type);
  const body = typeBody(e, opts);
  noChange(body, '--name, --zones, --max-scans, --reentry, --no-reentry, --valid-from, --valid-until');
  const r = await client.request<TicketTypeView>('PATCH', `/api/v1/events/${e.id}/ticket-types/${type.id}`, body);
  emit(output, opts.json, r, () => {
    const window =
      r.valid_from || r.valid_until
        ? `, valid ${localTime(r.valid_from, e.timezone) || '…'} – ${localTime(r.valid_until, e.timezone) || '…'} (${e.timezone})`
        : '';
    output.out(
      `Updated ticket type "${r.name}": ${r.max_scans === 1 ? 'one entry' : `${r.max_scans} entries`}${r.allow_reentry ? ', re-entry after exit' : ''}${window}.`,
    );
    output.out('Scanners get the change with their next download.');
  });
  return r;
}

/** `zones rm`, `gates rm`, `types rm`: a 409 says what depends on it and what to do. */
export async function removeSetup(opts: InEvent & { kind: Kind; target: string }, output: Output): Promise<void> {
  const client = admin(opts.connection);
  const e = await fetchEvent(client, opts.eventId);
  const hit = resolve(e, opts.kind, opts.target);
  const path = { zone: 'zones', gate: 'gates', 'ticket type': 'ticket-types' }[opts.kind];
  await client.delete(`/api/v1/events/${e.id}/${path}/${hit.id}`);
  emit(output, opts.json, { deleted: hit.id }, () => output.out(`Deleted ${opts.kind} "${hit.name}" (${hit.id}).`));
}

// --- tickets ---

export async function searchTickets(
  opts: InEvent & { query: string; limit?: number; cursor?: string },
  output: Output,
): Promise<unknown> {
  const client = admin(opts.connection);
  const e = await fetchEvent(client, opts.eventId);
  const params = new URLSearchParams({ q: opts.query, limit: String(opts.limit ?? 50) });
  if (opts.cursor) params.set('cursor', opts.cursor);
  const r = await client.get<TicketSearchPage>(`/api/v1/events/${e.id}/tickets?${params}`);
  emit(output, opts.json, r, () => {
    if (r.tickets.length === 0) {
      output.out(
        `No ticket of ${e.name} matches "${opts.query}" (a number's start, part of a holder's name from 3 letters, or a whole code).`,
      );
      return;
    }
    const rows = r.tickets.map((t) => [
      t.id,
      t.number,
      t.tier,
      t.holder_name ?? '',
      t.status,
      `${t.scans_used}/${t.max_scans}`,
      t.inside ? 'yes' : 'no',
    ]);
    for (const line of table(['TICKET ID', 'NUMBER', 'TYPE', 'HOLDER', 'STATUS', 'SCANS', 'INSIDE'], rows))
      output.out(line);
    if (r.next_cursor)
      output.out(
        `More: entrada tickets search ${JSON.stringify(opts.query)} --event ${e.id} --cursor ${r.next_cursor}`,
      );
  });
  return r;
}

export async function restoreTicket(
  opts: Base & { ticketId: string; action: 'unblock' | 'reinstate'; reason: string },
  output: Output,
): Promise<unknown> {
  requireUuid(opts.ticketId, '<ticket-id>', 'a ticket');
  if (opts.reason.trim() === '')
    throw new CliError('--reason must say why, e.g. --reason "ID checked at the box office"');
  let r: TicketView;
  try {
    r = await admin(opts.connection).post<TicketView>(`/api/v1/tickets/${opts.ticketId}/${opts.action}`, {
      reason: opts.reason,
    });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404)
      throw new CliError(
        `ticket ${opts.ticketId} not found for this admin token; find it with \`entrada tickets search QUERY --event EVENT_ID\``,
      );
    throw err;
  }
  emit(output, opts.json, r, () =>
    output.out(
      `Ticket ${r.number} is valid again (${opts.action === 'unblock' ? 'unblocked' : 'reinstated'}: ${opts.reason}).`,
    ),
  );
  return r;
}

/** A ticket and its whole scan history, times in the event's zone. */
export async function showTicket(opts: Base & { ticketId: string }, output: Output): Promise<unknown> {
  requireUuid(opts.ticketId, '<ticket-id>', 'a ticket');
  const client = admin(opts.connection);
  let t: TicketDetail;
  try {
    t = await client.get<TicketDetail>(`/api/v1/tickets/${opts.ticketId}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404)
      throw new CliError(
        `ticket ${opts.ticketId} not found for this admin token; find it with \`entrada tickets search QUERY --event EVENT_ID\``,
      );
    throw err;
  }
  if (opts.json) {
    output.out(JSON.stringify(t, null, 2));
    return t;
  }
  const e = await fetchEvent(client, t.event_id);
  output.out(
    `Ticket ${t.number} (${t.id}), ${t.tier}${t.holder_name ? `, ${t.holder_name}` : ''}: ${t.status}${t.status_reason ? ` (${t.status_reason})` : ''}, ${t.scans_used}/${t.max_scans} scans, ${t.inside ? 'inside' : 'not inside'}`,
  );
  // Scans are judged on the status at their time, so when it changed matters as much as what it is now.
  if (t.status_history.length > 0) {
    output.out('Status changes:');
    for (const c of t.status_history) output.out(`  ${localTime(c.at, e.timezone)}  ${c.status}`);
  }
  if (t.scans.length === 0) {
    output.out('Never scanned.');
    return t;
  }
  const rows = t.scans.map((sc) => [
    localTime(sc.scanned_at, e.timezone),
    sc.gate_name ?? sc.gate_id ?? '',
    sc.device_name ?? sc.device_id,
    // A staff member deleted since is still someone: their id.
    sc.staff_name ?? sc.staff_id ?? '-',
    sc.direction,
    sc.result,
    sc.reason,
    sc.source,
  ]);
  for (const line of table(
    [`TIME (${e.timezone})`, 'GATE', 'DEVICE', 'STAFF', 'DIRECTION', 'VERDICT', 'REASON', 'SOURCE'],
    rows,
  ))
    output.out(line);
  return t;
}

// --- devices ---

export async function updateDevice(
  opts: Base & { deviceId: string; name?: string; gate?: string | null },
  output: Output,
): Promise<unknown> {
  if (opts.gate !== undefined && opts.gate !== null) requireUuid(opts.gate, '<gate-id>', 'a gate');
  const body = defined({ name: opts.name, default_gate_id: opts.gate });
  let r: { device_id: string; name: string; default_gate_id: string | null };
  try {
    r = await admin(opts.connection).request('PATCH', `/api/v1/devices/${encodeURIComponent(opts.deviceId)}`, body);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404)
      throw new CliError(`device "${opts.deviceId}" not found; \`entrada devices list\` shows your devices' ids`);
    throw err;
  }
  emit(output, opts.json, r, () =>
    output.out(
      opts.gate === undefined
        ? `Renamed device ${r.device_id} to "${r.name}".`
        : r.default_gate_id
          ? `Device "${r.name}" starts at gate ${r.default_gate_id}.`
          : `Device "${r.name}" has no default gate.`,
    ),
  );
  return r;
}

// --- audit ---

function changeText(a: AuditEntry): string {
  if (a.after === null) return 'deleted';
  const keys = Object.keys(a.after);
  return keys.map((k) => `${k}: ${JSON.stringify(a.before?.[k] ?? null)} → ${JSON.stringify(a.after![k])}`).join('; ');
}

export async function showAudit(opts: InEvent & { limit?: number; cursor?: string }, output: Output): Promise<unknown> {
  const client = admin(opts.connection);
  const e = await fetchEvent(client, opts.eventId);
  const params = new URLSearchParams({ limit: String(opts.limit ?? 100) });
  if (opts.cursor) params.set('cursor', opts.cursor);
  const r = await client.get<AuditPage>(`/api/v1/events/${e.id}/audit?${params}`);
  emit(output, opts.json, r, () => {
    if (r.entries.length === 0) {
      output.out(`No changes recorded for ${e.name} yet.`);
      return;
    }
    // By name; the recorded actor (user:<id>, token:<id>) when it names no one any more (--json has both).
    const rows = r.entries.map((a) => [
      localTime(a.at, e.timezone),
      a.actor_name ?? a.actor,
      a.action,
      a.subject_id,
      changeText(a),
    ]);
    for (const line of table([`TIME (${e.timezone})`, 'BY', 'ACTION', 'SUBJECT', 'CHANGE'], rows)) output.out(line);
    if (r.next_cursor) output.out(`More: entrada audit --event ${e.id} --cursor ${r.next_cursor}`);
  });
  return r;
}
