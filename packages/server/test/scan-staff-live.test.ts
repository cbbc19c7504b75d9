import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { toBase64Url } from '@entrada/core';
import type { BusMessage, LiveScan } from '../src/services/bus.ts';
import {
  describeEachBackend,
  issueTickets,
  registerDevice,
  seedEvent,
  startTestServer,
  type Client,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from './harness.ts';
import { TestDevice } from './offline-helpers.ts';

/**
 * Issue 13: every scan records the staff member logged in on the device
 * (online and offline; an id that is not staff of the event is stored as none
 * and flagged, never refused), and the sync, the import and the seed-000
 * reconcile publish one `scans_recorded` and one `conflicts_changed` message
 * per batch after they commit.
 */
describeEachBackend('scan staff and live messages', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  let admin: Client;
  // The server's clock, injected: scan times are taken from it, not from Date.now().
  let clock = 0;
  const messages: BusMessage[] = [];
  let staff = '';
  let otherEventStaff = '';

  beforeAll(async () => {
    tdb = await backend.open();
    clock = Date.now();
    server = await startTestServer(tdb.db, { now: () => clock });
    admin = server.admin;
    ev = await seedEvent(admin);
    const other = await seedEvent(admin, { name: 'Other event' });
    staff = (await admin.post(`/api/v1/events/${ev.eventId}/staff`, { username: 'ann', name: 'Ann', pin: '4711' })).body
      .id;
    otherEventStaff = (
      await admin.post(`/api/v1/events/${other.eventId}/staff`, { username: 'olaf', name: 'Olaf', pin: '4711' })
    ).body.id;
    server.services.bus.subscribe((m) => messages.push(m));
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });
  beforeEach(() => {
    messages.length = 0;
    clock += 60_000;
  });

  let seed = 120;
  const device = async (name: string): Promise<TestDevice> => {
    const keys = TestDevice.keyPair(seed++);
    const d = await registerDevice(admin, name, { public_key: toBase64Url(keys.publicKey) });
    const td = new TestDevice(server.client(d.token), d.deviceId, ev.eventId);
    td.keys = keys;
    return td;
  };
  const tickets = async (n: number) =>
    issueTickets(
      admin,
      ev.eventId,
      Array.from({ length: n }, () => ({ ticket_type_id: ev.types.ga })),
    );
  const staffOf = async (deviceId: string) =>
    tdb.db.query<{ staff_id: string | null; flags: string[] }>(
      `SELECT staff_id, flags FROM scans WHERE device_id = $1 ORDER BY scanned_at, seq`,
      [deviceId],
    );
  const of = <K extends BusMessage['type']>(type: K) =>
    messages.filter((m): m is Extract<BusMessage, { type: K }> => m.type === type);

  describe('staff on scans', () => {
    it('online: stores the staff member of the event the device names; an unknown or foreign id is stored as none and flagged, not refused', async () => {
      const d = await device('Online gate');
      const ts = await tickets(4);
      const scan = (code: string, staffId?: string) =>
        d.client.post('/api/v1/scanning/scan', {
          code,
          event_id: ev.eventId,
          gate_id: ev.gates.main,
          ...(staffId ? { staff_id: staffId } : {}),
        });
      expect((await scan(ts[0]!.code, staff)).body).toMatchObject({ result: 'valid' });
      clock += 1;
      expect((await scan(ts[1]!.code, otherEventStaff)).body).toMatchObject({ result: 'valid' });
      clock += 1;
      // A refused scan (the same ticket again) and an unknown code go through the other two statements.
      expect((await scan(ts[0]!.code, crypto.randomUUID())).body).toMatchObject({ result: 'duplicate' });
      clock += 1;
      expect((await scan('NOT-A-TICKET', staff)).body).toMatchObject({ result: 'invalid_token' });
      clock += 1;
      expect((await scan(ts[2]!.code)).status).toBe(200);
      expect((await scan(ts[3]!.code, 'not-a-uuid')).status).toBe(400);
      expect(await staffOf(d.deviceId)).toEqual([
        { staff_id: staff, flags: [] },
        { staff_id: null, flags: ['unknown_staff'] },
        { staff_id: null, flags: ['unknown_staff'] },
        { staff_id: staff, flags: [] },
        { staff_id: null, flags: [] },
      ]);
    });

    it('offline: a synced scan keeps the staff member of the event it names; another id is stored as none, flagged on the scan and the device', async () => {
      const d = await device('Offline gate');
      const ts = await tickets(3);
      d.scan({ code: ts[0]!.code, at: clock - 3000, gateId: ev.gates.main });
      d.scan({ code: ts[1]!.code, at: clock - 2000, gateId: ev.gates.main });
      d.scan({ code: ts[2]!.code, at: clock - 1000, gateId: ev.gates.main });
      const body = d.body(1, 3, { device_time: clock });
      const scans = body.scans as Array<Record<string, unknown>>;
      scans[0]!.staff_id = staff;
      scans[1]!.staff_id = otherEventStaff;
      const r = await d.client.post('/api/v1/offline/sync', body);
      expect(r.status).toBe(200);
      expect(r.body.summary).toMatchObject({ successful: 3, failed: 0 });
      expect(await staffOf(d.deviceId)).toEqual([
        { staff_id: staff, flags: [] },
        { staff_id: null, flags: ['unknown_staff'] },
        { staff_id: null, flags: [] },
      ]);
      const status = (await d.client.get(`/api/v1/offline/sync/status/${ev.eventId}/${d.deviceId}`)).body;
      expect(status.flags).toContain('unknown_staff');
      // Outside the signed payload: the same upload again is a replay, whatever staff it names.
      scans[1]!.staff_id = staff;
      const again = await d.client.post('/api/v1/offline/sync', body);
      expect(again.body.summary).toMatchObject({ duplicates: 3 });
    });

    it("the ticket's detail names each scan's staff member (online and offline), by their current name, none once deleted", async () => {
      const d = await device('Detail gate');
      const [t] = await tickets(1);
      const bo = (await admin.post(`/api/v1/events/${ev.eventId}/staff`, { username: 'bo', name: 'Bo', pin: '4711' }))
        .body.id as string;
      const scan = (staffId?: string) =>
        d.client.post('/api/v1/scanning/scan', {
          code: t!.code,
          event_id: ev.eventId,
          gate_id: ev.gates.main,
          ...(staffId ? { staff_id: staffId } : {}),
        });
      expect((await scan(staff)).body).toMatchObject({ result: 'valid' });
      clock += 1000;
      expect((await scan(bo)).body).toMatchObject({ result: 'duplicate' });
      clock += 1000;
      expect((await scan()).body).toMatchObject({ result: 'duplicate' });
      clock += 1000;
      d.scan({ code: t!.code, at: clock - 500, gateId: ev.gates.main });
      const body = d.body(1, 1, { device_time: clock });
      (body.scans as Array<Record<string, unknown>>)[0]!.staff_id = staff;
      expect((await d.client.post('/api/v1/offline/sync', body)).status).toBe(200);

      // Names are read when the detail is: a renamed staff member shows by their new name, a deleted one by none.
      expect(
        (await admin.request('PATCH', `/api/v1/events/${ev.eventId}/staff/${staff}`, { name: 'Ann Smith' })).status,
      ).toBe(200);
      expect((await admin.request('DELETE', `/api/v1/events/${ev.eventId}/staff/${bo}`)).status).toBe(204);
      const detail = await admin.get(`/api/v1/tickets/${t!.id}`);
      expect(detail.status).toBe(200);
      const scans = detail.body.scans as Array<Record<string, unknown>>;
      expect(scans.map((s) => [s.source, s.staff_id, s.staff_name])).toEqual([
        ['online', staff, 'Ann Smith'],
        ['online', bo, null],
        ['online', null, null],
        ['offline', staff, 'Ann Smith'],
      ]);
      expect(scans[0]).toMatchObject({ device_name: 'Detail gate', gate_name: 'Main' });
      await admin.request('PATCH', `/api/v1/events/${ev.eventId}/staff/${staff}`, { name: 'Ann' });
    });
  });

  describe('live messages', () => {
    it('a sync publishes one scans_recorded for the batch (no codes) and one conflicts_changed with the conflicts it opened', async () => {
      const a = await device('Live A');
      const [t1, t2] = await tickets(2);
      a.scan({ code: t1!.code, at: clock - 5000, gateId: ev.gates.main });
      a.scan({ code: t2!.code, at: clock - 4000, gateId: ev.gates.main });
      a.scan({ code: t1!.code, at: clock - 3000, gateId: ev.gates.main });
      a.scan({ code: 'NOT-A-TICKET', at: clock - 2000, gateId: ev.gates.main });
      const body = a.body(1, 4, { device_time: clock });
      (body.scans as Array<Record<string, unknown>>)[1]!.staff_id = staff;
      expect((await a.client.post('/api/v1/offline/sync', body)).status).toBe(200);

      const recorded = of('scans_recorded');
      expect(recorded).toHaveLength(1);
      expect(recorded[0]!.eventId).toBe(ev.eventId);
      const live = recorded[0]!.scans;
      expect(live.map((s) => [s.ticketId, s.verdict, s.staffId, s.offline])).toEqual([
        [t1!.id, 'admitted', null, true],
        [t2!.id, 'admitted', staff, true],
        [t1!.id, 'conflict', null, true],
        [null, 'failed', null, true],
      ]);
      for (const s of live) {
        expect(Object.keys(s).sort()).toEqual([
          'at',
          'deviceId',
          'direction',
          'gateId',
          'offline',
          'reason',
          'receivedAt',
          'scanId',
          'staffId',
          'ticketId',
          'verdict',
        ]);
        expect(s).toMatchObject({ deviceId: a.deviceId, gateId: ev.gates.main, receivedAt: clock, direction: 'entry' });
      }
      expect(live.map((s) => s.at)).toEqual([clock - 5000, clock - 4000, clock - 3000, clock - 2000]);
      expect(JSON.stringify(recorded)).not.toContain(t1!.code);

      const conflicts = await tdb.db.query<{ id: string; loser_scan_id: string; reason: string }>(
        `SELECT id, loser_scan_id, reason FROM conflicts WHERE ticket_id = $1`,
        [t1!.id],
      );
      expect(conflicts).toHaveLength(1);
      expect(conflicts[0]!.loser_scan_id).toBe(live[2]!.scanId);
      // Two seconds apart on one device: a double read of the same person, as the conflict says.
      expect(live[2]!.reason).toBe(conflicts[0]!.reason);
      expect(live[2]!.reason).toBe('double_read');
      expect(of('conflicts_changed')).toEqual([
        { type: 'conflicts_changed', eventId: ev.eventId, conflictIds: [conflicts[0]!.id], state: 'opened' },
      ]);

      // A replay stores nothing new: nothing is published.
      messages.length = 0;
      expect((await a.client.post('/api/v1/offline/sync', body)).body.summary).toMatchObject({ duplicates: 4 });
      expect(of('scans_recorded')).toEqual([]);
      expect(of('conflicts_changed')).toEqual([]);
    });

    it('a later upload whose earlier scan takes the admission over opens the conflict of the scan it overtakes', async () => {
      const [t] = await tickets(1);
      const late = await device('Live late');
      late.scan({ code: t!.code, at: clock - 1000, gateId: ev.gates.main });
      await late.upload(1, 1, { device_time: clock });
      expect(of('conflicts_changed')).toEqual([]);
      messages.length = 0;
      const early = await device('Live early');
      early.scan({ code: t!.code, at: clock - 30_000, gateId: ev.gates.main });
      await early.upload(1, 1, { device_time: clock });
      const [c] = await tdb.db.query<{ id: string; loser_scan_id: string }>(
        `SELECT id, loser_scan_id FROM conflicts WHERE ticket_id = $1`,
        [t!.id],
      );
      const [lateScan] = await tdb.db.query<{ id: string }>(`SELECT id FROM scans WHERE device_id = $1`, [
        late.deviceId,
      ]);
      expect(c!.loser_scan_id).toBe(lateScan!.id);
      expect(of('conflicts_changed')).toEqual([
        { type: 'conflicts_changed', eventId: ev.eventId, conflictIds: [c!.id], state: 'opened' },
      ]);
      expect(of('scans_recorded').map((m) => m.scans.map((s: LiveScan) => s.verdict))).toEqual([['admitted']]);
    });

    it('an import publishes once for its whole log, with the review conflicts of a revoked device', async () => {
      const d = await device('Broken phone');
      const ts = await tickets(3);
      ts.forEach((t, i) => d.scan({ code: t.code, at: clock - 60_000 + i * 20_000, gateId: ev.gates.main }));
      await admin.post(`/api/v1/devices/${d.deviceId}/revoke`, {
        reason: 'stolen',
        effective_at: new Date(clock - 50_000).toISOString(),
      });
      messages.length = 0;
      const body = d.body(1, 3);
      const r = await admin.post('/api/v1/offline/import', {
        format: 'entrada/device-log/v1',
        event_id: ev.eventId,
        device_id: d.deviceId,
        exported_at: clock,
        public_key: toBase64Url(d.keys!.publicKey),
        scans: body.scans,
        integrity: body.integrity,
      });
      expect(r.status).toBe(200);
      const recorded = of('scans_recorded');
      expect(recorded).toHaveLength(1);
      expect(recorded[0]!.scans.map((s) => s.verdict)).toEqual(['admitted', 'quarantined', 'quarantined']);
      const ids = (
        await tdb.db.query<{ id: string }>(
          `SELECT c.id FROM conflicts c JOIN scans s ON s.event_id = c.event_id AND s.id = c.loser_scan_id WHERE s.device_id = $1 ORDER BY s.scanned_at`,
          [d.deviceId],
        )
      ).map((x) => x.id);
      expect(ids).toHaveLength(2);
      expect(of('conflicts_changed')).toEqual([
        { type: 'conflicts_changed', eventId: ev.eventId, conflictIds: ids, state: 'opened' },
      ]);
    });

    it('a seed-000 reconcile publishes one scans_recorded per event of the call and the conflicts it opened', async () => {
      const d = await device('Legacy scanner');
      const [t] = await tickets(1);
      const at = (ms: number) => new Date(ms).toISOString();
      const r = await d.client.post('/api/v1/offline/reconcile', {
        device_id: d.deviceId,
        scans: [
          { ticket_id: t!.id, scanned_at: at(clock - 20_000), result: 'ALLOW' },
          { ticket_id: t!.id, scanned_at: at(clock - 10_000), result: 'ALLOW' },
        ],
      });
      expect(r.status).toBe(200);
      const recorded = of('scans_recorded');
      expect(recorded).toHaveLength(1);
      expect(recorded[0]!.scans.map((s) => [s.verdict, s.at])).toEqual([
        ['admitted', clock - 20_000],
        ['conflict', clock - 10_000],
      ]);
      const [c] = await tdb.db.query<{ id: string }>(`SELECT id FROM conflicts WHERE ticket_id = $1`, [t!.id]);
      expect(of('conflicts_changed')).toEqual([
        { type: 'conflicts_changed', eventId: ev.eventId, conflictIds: [c!.id], state: 'opened' },
      ]);
    });
  });
});
