import { MAX_TICKETS_PER_CALL } from '@entrada/core';
import type {
  EventSummary,
  IssuedTickets,
  NewGateView,
  PairingCode,
  RegisteredDevice,
  TicketTypeView,
  ZoneView,
} from '../api-types.ts';
import { printDemoDetails, type DemoDetails } from '../demo-details.ts';
import { CliError } from '../errors.ts';
import { count, perSecond, seconds } from '../format.ts';
import { HttpClient, type Connection } from '../http-client.ts';
import type { Output } from '../output.ts';
import { startProgress } from '../progress.ts';

export const DEFAULT_DEMO_TICKETS = 1000;
const MAX_DEMO_TICKETS = 5_000_000;
const DAY_MS = 24 * 3600_000;
/** The same staff login as the demo `entrada serve` seeds. */
const DEMO_STAFF = { username: 'gate', name: 'Gate staff', pin: '1234' } as const;

export interface DemoOptions {
  connection: Connection;
  tickets?: number;
  name?: string;
  now?: number;
}

/**
 * A festival to try everything on, made through the public API only (so it
 * also proves an installation end to end): two zones, three gates, three
 * ticket types that behave differently at the gate, a scanner device, a staff
 * login and a pairing code valid for a day.
 */
export async function createDemo(opts: DemoOptions, output: Output): Promise<DemoDetails> {
  const total = opts.tickets ?? DEFAULT_DEMO_TICKETS;
  if (!Number.isInteger(total) || total < 1 || total > MAX_DEMO_TICKETS) {
    throw new CliError(`--tickets must be a whole number from 1 to ${count(MAX_DEMO_TICKETS)}, got ${total}`);
  }
  const client = new HttpClient(opts.connection, 'admin');
  const now = opts.now ?? Date.now();
  const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const event = await client.post<EventSummary>('/api/v1/events', {
    name: opts.name ?? 'Demo Festival',
    starts_at: new Date(now - DAY_MS).toISOString(),
    ends_at: new Date(now + 7 * DAY_MS).toISOString(),
    timezone,
    settings: { duplicate_window_s: 300 },
  });
  const path = `/api/v1/events/${event.id}`;
  const zone = (name: string, capacity: number): Promise<ZoneView> =>
    client.post<ZoneView>(`${path}/zones`, { name, capacity });
  const gate = (name: string, zoneIds: string[]): Promise<NewGateView> =>
    client.post<NewGateView>(`${path}/gates`, { name, zone_ids: zoneIds });
  const type = (body: Record<string, unknown>): Promise<TicketTypeView> =>
    client.post<TicketTypeView>(`${path}/ticket-types`, body);

  const general = await zone('General', Math.max(10, total));
  const vip = await zone('VIP', Math.max(5, Math.ceil(total / 10)));
  const gates = [await gate('Main Gate', [general.id]), await gate('VIP Gate', [vip.id]), await gate('Exit', [])];
  const types = [
    await type({ name: 'GA', zone_ids: [general.id] }),
    await type({ name: 'Weekend re-entry', zone_ids: [general.id], allow_reentry: true }),
    await type({ name: 'VIP', zone_ids: [general.id, vip.id], allow_reentry: true }),
  ];
  output.out(
    `Created event "${event.name}" (${event.id}) with zones General and VIP, gates ${gates.map((g) => g.name).join(', ')}.`,
  );

  const samples: DemoDetails['sampleCodes'] = [];
  const started = Date.now();
  const progress = startProgress(output, { label: 'Issuing', unit: 'tickets', total, to: 'stdout' });
  try {
    for (let start = 0; start < total; start += MAX_TICKETS_PER_CALL) {
      const n = Math.min(MAX_TICKETS_PER_CALL, total - start);
      const typeOf = (i: number): TicketTypeView => types[(start + i) % types.length]!;
      const batch = Array.from({ length: n }, (_, i) => ({
        ticket_type_id: typeOf(i).id,
        holder_name: `Guest ${start + i + 1}`,
      }));
      const { tickets } = await client.post<IssuedTickets>(`${path}/tickets`, { tickets: batch });
      // One sample per tier, so each ticket type's behaviour can be tried.
      for (let i = 0; i < tickets.length && samples.length < types.length; i++) {
        if (!samples.some((s) => s.tier === typeOf(i).name))
          samples.push({ tier: typeOf(i).name, number: tickets[i]!.number, code: tickets[i]!.code });
      }
      progress.update(start + n);
    }
  } finally {
    progress.stop();
  }
  const elapsed = Date.now() - started;
  output.out(`Issued ${count(total)} tickets in ${seconds(elapsed)} (${perSecond(total, elapsed)}).`);

  const device = await client.post<RegisteredDevice>('/api/v1/devices', { name: 'Demo scanner' });
  await client.post(`${path}/staff`, { ...DEMO_STAFF });
  const pairing = await client.post<PairingCode>('/api/v1/devices/pairing-codes', {
    event_id: event.id,
    gate_id: gates[0]!.id,
    ttl_s: DAY_MS / 1000,
  });
  const details: DemoDetails = {
    url: client.baseUrl,
    eventId: event.id,
    eventName: event.name,
    tickets: total,
    deviceId: device.device_id,
    deviceToken: device.token,
    gates: gates.map((g) => ({ id: g.id, name: g.name })),
    sampleCodes: samples,
    staff: { ...DEMO_STAFF },
    pairing: { code: pairing.code, expiresAt: pairing.expires_at, gateId: pairing.gate_id, pairUrl: pairing.pair_url },
  };
  output.out('');
  await printDemoDetails(details, output);
  return details;
}
