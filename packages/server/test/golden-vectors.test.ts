/**
 * One rule set: the golden admission vectors core is tested with, replayed
 * through the server's API with the server clock set to each scan's time.
 * Vectors whose history reaches the scan's time or later describe replay of
 * late offline uploads (state follows scan time, not arrival); the online path
 * cannot receive such a history, so they are covered by the sync replay tests.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import vectors from '@entrada/core/vectors/admission.json' with { type: 'json' };
import { readAdmissionVectors, type AdmissionVector } from '@entrada/core';
import { describeEachBackend, issueTickets, startTestServer, type Client, type TestDatabase, type TestServer } from './harness.ts';

const all = readAdmissionVectors(vectors);
const online = all.filter((v) => v.history.every((h) => h.at < v.scan.at));

describeEachBackend('golden admission vectors through the online API', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let clock = 0;
  const devices = new Map<string, Client>();

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db, { now: () => clock });
    const ids = new Set(all.flatMap((v) => [v.scan.deviceId, ...v.history.map((h) => h.deviceId)]));
    for (const id of ids) {
      const r = await server.admin.post('/api/v1/devices', { name: id, device_id: id });
      devices.set(id, server.client(r.body.token));
    }
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  it('keeps most vectors for the online path', () => {
    expect(online.length).toBeGreaterThanOrEqual(all.length - 6);
  });

  async function setUp(v: AdmissionVector): Promise<{ eventId: string; gates: Map<string, string>; code: string }> {
    const admin = server.admin;
    const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
    const event = async (): Promise<string> => (await admin.post('/api/v1/events', {
      name: v.name, starts_at: '2026-01-01T00:00:00Z', ends_at: '2027-01-01T00:00:00Z', timezone: v.event.timezone,
      settings: { duplicate_window_s: v.event.duplicateWindowMs / 1000 },
    })).body.id;
    const eventId = await event();
    const zoneIds = new Map<string, string>();
    const zone = async (name: string): Promise<string> => {
      if (!zoneIds.has(name)) zoneIds.set(name, (await admin.post(`/api/v1/events/${eventId}/zones`, { name })).body.id);
      return zoneIds.get(name)!;
    };
    const gates = new Map<string, string>();
    for (const scan of [...v.history, v.scan]) {
      const g = scan.gate!;
      if (gates.has(g.id)) continue;
      const zones = await Promise.all(g.zoneIds.map(zone));
      const gateId: string = (await admin.post(`/api/v1/events/${eventId}/gates`, { name: g.id, zone_ids: zones })).body.id;
      gates.set(g.id, gateId);
      if (g.closedAt != null) {
        // Closed through the API at the vector's time: closing stamps closed_at with the server clock.
        clock = g.closedAt;
        const closed = await admin.request('PATCH', `/api/v1/events/${eventId}/gates/${gateId}`, { closed: true });
        expect(closed.body.closed_at).toBe(iso(g.closedAt));
      }
    }
    const type = await admin.post(`/api/v1/events/${eventId}/ticket-types`, {
      name: v.type.name, zone_ids: await Promise.all(v.type.zoneIds.map(zone)), max_scans: v.type.maxScans,
      allow_reentry: v.type.allowReentry, valid_from: iso(v.type.validFrom), valid_until: iso(v.type.validUntil),
    });
    expect(type.status, JSON.stringify(type.body)).toBe(201);
    // A ticket of another event: issue it there, scan it here.
    const ticketEvent = v.ticket.eventId === v.event.id ? eventId : await event();
    const ticketType = ticketEvent === eventId ? type.body.id
      : (await admin.post(`/api/v1/events/${ticketEvent}/ticket-types`, { name: 'Other', zone_ids: [] })).body.id;
    const [ticket] = await issueTickets(admin, ticketEvent, [{ ticket_type_id: ticketType }]);
    if (v.ticket.status !== 'valid') {
      clock = v.ticket.statusChangedAt!;
      await admin.post(`/api/v1/tickets/${ticket!.id}/${v.ticket.status === 'blocked' ? 'block' : 'cancel'}`);
    }
    return { eventId, gates, code: ticket!.code };
  }

  it.each(online.map((v) => [v.name, v] as const))('%s', async (_name, v) => {
    const { eventId, gates, code } = await setUp(v);
    const scan = async (s: AdmissionVector['scan']) => {
      clock = s.at;
      return devices.get(s.deviceId)!.post('/api/v1/scanning/scan', { code, event_id: eventId, gate_id: gates.get(s.gate!.id), direction: s.direction });
    };
    for (const h of [...v.history].sort((a, b) => a.at - b.at)) await scan(h);
    const r = await scan(v.scan);
    expect(r.status).toBe(200);
    expect({ result: r.body.result, reason: r.body.reason }).toEqual(v.expect);
  });
});
