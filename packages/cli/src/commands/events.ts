import type { EventList, EventSummary } from '../api-types.ts';
import { fetchEvent } from '../events-api.ts';
import { table } from '../format.ts';
import { HttpClient, type Connection } from '../http-client.ts';
import type { Output } from '../output.ts';

export async function listEvents(opts: { connection: Connection }, output: Output): Promise<EventSummary[]> {
  const client = new HttpClient(opts.connection, 'admin');
  const { events } = await client.get<EventList>('/api/v1/events');
  if (events.length === 0) {
    output.out('No events yet. Create a demo one with: entrada demo');
    return events;
  }
  for (const line of table(
    ['EVENT ID', 'NAME', 'STARTS', 'ENDS', 'TIME ZONE'],
    events.map((e) => [e.id, e.name, e.starts_at, e.ends_at, e.timezone]),
  )) {
    output.out(line);
  }
  return events;
}

/** The ids a CSV import (ticket types) and a scan (gates) need. */
export async function showEvent(opts: { connection: Connection; eventId: string }, output: Output): Promise<void> {
  const client = new HttpClient(opts.connection, 'admin');
  const e = await fetchEvent(client, opts.eventId);
  const zoneNames = (ids: string[]): string =>
    ids.length === 0 ? 'all zones' : ids.map((id) => e.zones.find((z) => z.id === id)?.name ?? id).join(', ');
  output.out(`${e.name}  (${e.id})`);
  output.out(`  ${e.starts_at} → ${e.ends_at}, ${e.timezone}`);
  output.out('');
  output.out('Gates');
  for (const line of table(
    ['GATE ID', 'NAME', 'ADMITS TO'],
    e.gates.map((g) => [g.id, g.name, zoneNames(g.zone_ids)]),
  ))
    output.out(`  ${line}`);
  output.out('');
  output.out('Ticket types');
  const types = e.ticket_types.map((t) => [
    t.id,
    t.name,
    zoneNames(t.zone_ids),
    String(t.max_scans),
    t.allow_reentry ? 'yes' : 'no',
  ]);
  for (const line of table(['TYPE ID', 'NAME', 'ZONES', 'MAX SCANS', 'RE-ENTRY'], types)) output.out(`  ${line}`);
}
