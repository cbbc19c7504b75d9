import type { DeviceService } from './device-service.ts';
import type { EventService } from './event-service.ts';
import type { TicketService } from './ticket-service.ts';
import { MAX_TICKETS_PER_CALL } from '@entrada/core';

export interface DemoResult {
  eventId: string; gates: Array<{ id: string; name: string }>; deviceId: string; deviceToken: string;
  sampleCodes: Array<{ tier: string; number: string; code: string }>; tickets: number;
}

/** A small festival to try everything on: two zones, three gates, three ticket types. */
export async function createDemoEvent(
  s: { events: EventService; tickets: TicketService; devices: DeviceService },
  organisationId: string,
  opts: { tickets: number; now: number; onProgress?: (done: number, total: number) => void },
): Promise<DemoResult> {
  const day = 24 * 3600_000;
  const event = await s.events.create(organisationId, {
    name: 'Demo Festival', starts_at: new Date(opts.now - day).toISOString(), ends_at: new Date(opts.now + 7 * day).toISOString(),
    timezone: 'Europe/Amsterdam', settings: { duplicate_window_s: 300 },
  });
  const general = await s.events.addZone(organisationId, event.id, { name: 'General', capacity: Math.max(10, opts.tickets) });
  const vip = await s.events.addZone(organisationId, event.id, { name: 'VIP', capacity: Math.max(5, Math.ceil(opts.tickets / 10)) });
  const main = await s.events.addGate(organisationId, event.id, { name: 'Main Gate', zone_ids: [general.id] });
  const vipGate = await s.events.addGate(organisationId, event.id, { name: 'VIP Gate', zone_ids: [vip.id] });
  const exitGate = await s.events.addGate(organisationId, event.id, { name: 'Exit North', zone_ids: [] });
  const ga = await s.events.addTicketType(organisationId, event.id, { name: 'General Admission', zone_ids: [general.id] });
  const weekend = await s.events.addTicketType(organisationId, event.id, { name: 'Weekend (re-entry)', zone_ids: [general.id], allow_reentry: true });
  const vipType = await s.events.addTicketType(organisationId, event.id, { name: 'VIP', zone_ids: [general.id, vip.id], allow_reentry: true });
  const types = [ga, weekend, vipType];
  const samples: DemoResult['sampleCodes'] = [];
  for (let start = 0; start < opts.tickets; start += MAX_TICKETS_PER_CALL) {
    const n = Math.min(MAX_TICKETS_PER_CALL, opts.tickets - start);
    const batch = Array.from({ length: n }, (_, i) => ({ ticket_type_id: types[(start + i) % 3]!.id, holder_name: `Guest ${start + i + 1}` }));
    const issued = await s.tickets.create(organisationId, event.id, { tickets: batch });
    for (let i = 0; i < issued.length && samples.length < 3; i++) samples.push({ tier: types[(start + i) % 3]!.name, number: issued[i]!.number, code: issued[i]!.code });
    opts.onProgress?.(start + n, opts.tickets);
  }
  const { device, token } = await s.devices.register(organisationId, { name: 'Demo scanner' });
  return {
    eventId: event.id, gates: [main, vipGate, exitGate].map((g) => ({ id: g.id, name: g.name })), deviceId: device.deviceId,
    deviceToken: token, sampleCodes: samples, tickets: opts.tickets,
  };
}
