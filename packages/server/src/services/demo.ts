import type { DeviceService } from './device-service.ts';
import type { EventService } from './event-service.ts';
import type { PairingService } from './pairing-service.ts';
import type { StaffService } from './staff-service.ts';
import type { TicketService } from './ticket-service.ts';
import { MAX_TICKETS_PER_CALL } from '@entrada/core';

/** A pairing code for the demo event; the banner prints it with its pair URL. */
export interface DemoPairing {
  code: string;
  expiresAt: string;
  gateId: string | null;
}

export interface DemoResult {
  eventId: string;
  gates: Array<{ id: string; name: string }>;
  deviceId: string;
  deviceToken: string;
  sampleCodes: Array<{ tier: string; number: string; code: string }>;
  tickets: number;
  /** A staff account to log in with on a paired scanner. */
  staff: { username: string; pin: string; name: string };
  pairing: DemoPairing;
}

export const DEMO_STAFF = { username: 'gate', pin: '1234', name: 'Gate staff' } as const;
export const DEMO_PAIRING_TTL_S = 24 * 3600;

/** A pairing code for the demo event's first gate, valid 24 hours. */
export async function createDemoPairing(
  s: { pairing: PairingService },
  organisationId: string,
  eventId: string,
  gateId: string | null,
): Promise<DemoPairing> {
  const { code, record } = await s.pairing.issue(organisationId, {
    event_id: eventId,
    ...(gateId ? { gate_id: gateId } : {}),
    ttl_s: DEMO_PAIRING_TTL_S,
  });
  return { code, expiresAt: new Date(record.expiresAt).toISOString(), gateId: record.gateId };
}

/** A small festival to try everything on: two zones, three gates, three ticket types, a staff account and a pairing code. */
export async function createDemoEvent(
  s: {
    events: EventService;
    tickets: TicketService;
    devices: DeviceService;
    staff: StaffService;
    pairing: PairingService;
  },
  organisationId: string,
  opts: { tickets: number; now: number; onProgress?: (done: number, total: number) => void },
): Promise<DemoResult> {
  const day = 24 * 3600_000;
  const event = await s.events.create(organisationId, {
    name: 'Demo Festival',
    starts_at: new Date(opts.now - day).toISOString(),
    ends_at: new Date(opts.now + 7 * day).toISOString(),
    timezone: 'Europe/Amsterdam',
    settings: { duplicate_window_s: 300 },
  });
  const general = await s.events.addZone(organisationId, event.id, {
    name: 'General',
    capacity: Math.max(10, opts.tickets),
  });
  const vip = await s.events.addZone(organisationId, event.id, {
    name: 'VIP',
    capacity: Math.max(5, Math.ceil(opts.tickets / 10)),
  });
  const main = await s.events.addGate(organisationId, event.id, { name: 'Main Gate', zone_ids: [general.id] });
  const vipGate = await s.events.addGate(organisationId, event.id, { name: 'VIP Gate', zone_ids: [vip.id] });
  const exitGate = await s.events.addGate(organisationId, event.id, { name: 'Exit North', zone_ids: [] });
  const ga = await s.events.addTicketType(organisationId, event.id, {
    name: 'General Admission',
    zone_ids: [general.id],
  });
  const weekend = await s.events.addTicketType(organisationId, event.id, {
    name: 'Weekend (re-entry)',
    zone_ids: [general.id],
    allow_reentry: true,
  });
  const vipType = await s.events.addTicketType(organisationId, event.id, {
    name: 'VIP',
    zone_ids: [general.id, vip.id],
    allow_reentry: true,
  });
  const types = [ga, weekend, vipType];
  const samples: DemoResult['sampleCodes'] = [];
  for (let start = 0; start < opts.tickets; start += MAX_TICKETS_PER_CALL) {
    const n = Math.min(MAX_TICKETS_PER_CALL, opts.tickets - start);
    const batch = Array.from({ length: n }, (_, i) => ({
      ticket_type_id: types[(start + i) % 3]!.id,
      holder_name: `Guest ${start + i + 1}`,
    }));
    const issued = await s.tickets.create(organisationId, event.id, { tickets: batch });
    for (let i = 0; i < issued.length && samples.length < 3; i++)
      samples.push({ tier: types[(start + i) % 3]!.name, number: issued[i]!.number, code: issued[i]!.code });
    opts.onProgress?.(start + n, opts.tickets);
  }
  const { device, token } = await s.devices.register(organisationId, { name: 'Demo scanner' });
  await s.staff.create(organisationId, event.id, { ...DEMO_STAFF });
  const pairing = await createDemoPairing(s, organisationId, event.id, main.id);
  return {
    eventId: event.id,
    gates: [main, vipGate, exitGate].map((g) => ({ id: g.id, name: g.name })),
    deviceId: device.deviceId,
    deviceToken: token,
    sampleCodes: samples,
    tickets: opts.tickets,
    staff: { ...DEMO_STAFF },
    pairing,
  };
}
