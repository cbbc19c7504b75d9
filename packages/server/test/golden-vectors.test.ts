/**
 * One rule set: the golden admission vectors core is tested with, replayed
 * through the server's API with the server clock set to each scan's time.
 * Vectors whose history reaches the scan's time or later describe replay of
 * late offline uploads (state follows scan time, not arrival); the online path
 * cannot receive such a history, so they are covered by the sync replay tests.
 * Likewise a status change after the scan (the ticket's status history): an
 * online scan is decided on the status now. Every vector with a status history
 * also runs through the offline sync, uploaded after all its changes were made
 * (issue 14 §2: judged on the status at the scan's time, not at upload).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import vectors from '@entrada/core/vectors/admission.json' with { type: 'json' };
import { readAdmissionVectors, type AdmissionVector } from '@entrada/core';
import {
  describeEachBackend,
  issueTickets,
  startTestServer,
  type Client,
  type TestDatabase,
  type TestServer,
} from './harness.ts';
import { TestDevice } from './offline-helpers.ts';

const all = readAdmissionVectors(vectors);
const online = all.filter(
  (v) => v.history.every((h) => h.at < v.scan.at) && (v.ticket.statusHistory ?? []).every((c) => c.at <= v.scan.at),
);
const withStatusHistory = all.filter((v) => v.ticket.statusHistory !== undefined);

/** The API call that makes a status change, from the status before it. */
function changeCall(from: string, to: string): string {
  if (to === 'valid') return from === 'blocked' ? 'unblock' : 'reinstate';
  return to === 'blocked' ? 'block' : 'cancel';
}

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
    expect(online.length).toBeGreaterThanOrEqual(all.length - 16);
  });

  async function setUp(v: AdmissionVector): Promise<{
    eventId: string;
    gates: Map<string, string>;
    code: string;
    ticketId: string;
    changes: Array<{ at: number; call: string }>;
  }> {
    const admin = server.admin;
    const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
    const event = async (): Promise<string> =>
      (
        await admin.post('/api/v1/events', {
          name: v.name,
          starts_at: '2026-01-01T00:00:00Z',
          ends_at: '2027-01-01T00:00:00Z',
          timezone: v.event.timezone,
          settings: { duplicate_window_s: v.event.duplicateWindowMs / 1000 },
        })
      ).body.id;
    const eventId = await event();
    const zoneIds = new Map<string, string>();
    const zone = async (name: string): Promise<string> => {
      if (!zoneIds.has(name))
        zoneIds.set(name, (await admin.post(`/api/v1/events/${eventId}/zones`, { name })).body.id);
      return zoneIds.get(name)!;
    };
    const gates = new Map<string, string>();
    for (const scan of [...v.history, v.scan]) {
      const g = scan.gate!;
      if (gates.has(g.id)) continue;
      const zones = await Promise.all(g.zoneIds.map(zone));
      const gateId: string = (await admin.post(`/api/v1/events/${eventId}/gates`, { name: g.id, zone_ids: zones })).body
        .id;
      gates.set(g.id, gateId);
      if (g.closedAt != null) {
        // Closed through the API at the vector's time: closing stamps closed_at with the server clock.
        clock = g.closedAt;
        const closed = await admin.request('PATCH', `/api/v1/events/${eventId}/gates/${gateId}`, { closed: true });
        expect(closed.body.closed_at).toBe(iso(g.closedAt));
      }
    }
    const type = await admin.post(`/api/v1/events/${eventId}/ticket-types`, {
      name: v.type.name,
      zone_ids: await Promise.all(v.type.zoneIds.map(zone)),
      max_scans: v.type.maxScans,
      allow_reentry: v.type.allowReentry,
      valid_from: iso(v.type.validFrom),
      valid_until: iso(v.type.validUntil),
    });
    expect(type.status, JSON.stringify(type.body)).toBe(201);
    // A ticket of another event: issue it there, scan it here.
    const ticketEvent = v.ticket.eventId === v.event.id ? eventId : await event();
    const ticketType =
      ticketEvent === eventId
        ? type.body.id
        : (await admin.post(`/api/v1/events/${ticketEvent}/ticket-types`, { name: 'Other', zone_ids: [] })).body.id;
    const [ticket] = await issueTickets(admin, ticketEvent, [{ ticket_type_id: ticketType }]);
    // The status changes, made through the API at their times (the caller interleaves them with the scans).
    const changes: Array<{ at: number; call: string }> = [];
    if (v.ticket.statusHistory) {
      let from = 'valid';
      for (const c of v.ticket.statusHistory) {
        changes.push({ at: c.at, call: changeCall(from, c.status) });
        from = c.status;
      }
    } else if (v.ticket.status !== 'valid') {
      changes.push({ at: v.ticket.statusChangedAt!, call: v.ticket.status === 'blocked' ? 'block' : 'cancel' });
    }
    return { eventId, gates, code: ticket!.code, ticketId: ticket!.id, changes };
  }

  async function change(ticketId: string, c: { at: number; call: string }): Promise<void> {
    clock = c.at;
    const r = await server.admin.post(`/api/v1/tickets/${ticketId}/${c.call}`, { reason: `golden vector: ${c.call}` });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }

  it.each(online.map((v) => [v.name, v] as const))('%s', async (_name, v) => {
    const { eventId, gates, code, ticketId, changes } = await setUp(v);
    const scan = async (s: AdmissionVector['scan']) => {
      clock = s.at;
      return devices.get(s.deviceId)!.post('/api/v1/scanning/scan', {
        code,
        event_id: eventId,
        gate_id: gates.get(s.gate!.id),
        direction: s.direction,
      });
    };
    // Status changes and earlier scans in time order (a change at a scan's instant first: it applies to that scan).
    const steps = [
      ...changes.map((c) => ({ at: c.at, run: () => change(ticketId, c) })),
      ...v.history.map((h) => ({
        at: h.at,
        run: async () => {
          await scan(h);
        },
      })),
    ];
    for (const step of steps.sort((a, b) => a.at - b.at)) await step.run();
    const r = await scan(v.scan);
    expect(r.status).toBe(200);
    expect({ result: r.body.result, reason: r.body.reason }).toEqual(v.expect);
  });

  it.each(withStatusHistory.map((v) => [v.name, v] as const))(
    '%s (offline, uploaded after every status change)',
    async (_name, v) => {
      const { eventId, gates, code, ticketId, changes } = await setUp(v);
      for (const c of changes) await change(ticketId, c);
      // Each device uploads its scans made while offline; the ticket's status now is the last change's.
      const byDevice = new Map<string, TestDevice>();
      for (const s of [...v.history, v.scan]) {
        const d = byDevice.get(s.deviceId) ?? new TestDevice(devices.get(s.deviceId)!, s.deviceId, eventId);
        byDevice.set(s.deviceId, d);
        d.scan({ code, at: s.at, direction: s.direction, gateId: gates.get(s.gate!.id)! });
      }
      for (const d of byDevice.values())
        expect((await d.upload(1, d.log.length, { device_time: clock })).status).toBe(200);
      const [row] = await tdb.db.query<{ record_status: string; conflict_reason: string | null }>(
        `SELECT record_status, conflict_reason FROM scans WHERE event_id = $1 AND device_id = $2 AND scanned_at = $3`,
        [eventId, v.scan.deviceId, new Date(v.scan.at)],
      );
      const admitted = v.expect.result === 'valid';
      expect(row).toEqual({
        record_status: admitted ? 'admitted' : 'conflict',
        conflict_reason: admitted ? null : v.expect.reason,
      });
    },
  );
});
