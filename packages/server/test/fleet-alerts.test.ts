import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { createServices } from '../src/server.ts';
import type { BusMessage } from '../src/services/bus.ts';
import type { OrganiserNotification } from '../src/services/notifications.ts';
import {
  describeEachBackend,
  describePostgres,
  eventually,
  freshPostgresDatabase,
  issueTickets,
  registerDevice,
  seedEvent,
  startTestServer,
  TEST_SECRET,
  type Client,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from './harness.ts';
import { TestDevice } from './offline-helpers.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

interface AlertJson {
  id: string;
  rule: string;
  severity: string;
  subject: { kind: string; id: string; name: string };
  raised_at: string;
  cleared_at: string | null;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  detail: Record<string, unknown>;
}

/** Heartbeats, the fleet table and every alert rule at its thresholds, on an injected clock (issue 13 §2–3). */
describeEachBackend('fleet health and alerts', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  // Ahead of the wall clock: devices' last_seen_at (written with the database's now()) never outruns it.
  let clock = Date.now() + 10 * MIN;
  const messages: BusMessage[] = [];
  const notified: OrganiserNotification[] = [];

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db, { now: () => clock, config: { alertIntervalMs: 0 } });
    server.services.bus.subscribe((m) => messages.push(m));
    server.services.notifier = {
      notify: async (_tx, n) => {
        notified.push(...n);
      },
    };
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  /** A fresh event (running around the injected clock) and a device registered for it. */
  async function fresh(
    overrides: Record<string, unknown> = {},
  ): Promise<{ ev: SeededEvent; device: Client; deviceId: string }> {
    const ev = await seedEvent(server.admin, {
      starts_at: new Date(clock - HOUR).toISOString(),
      ends_at: new Date(clock + HOUR).toISOString(),
      ...overrides,
    });
    const d = await registerDevice(server.admin, `Scanner ${Math.random().toString(36).slice(2, 6)}`, {
      event_ids: [ev.eventId],
    });
    return { ev, device: server.client(d.token), deviceId: d.deviceId };
  }
  const beat = (device: Client, eventId: string, extra: Record<string, unknown> = {}) =>
    device.post('/api/v1/devices/heartbeat', {
      event_id: eventId,
      device_time: clock,
      app_version: 'web 1.2.3',
      pending_scans: 0,
      ...extra,
    });
  const alerts = async (eventId: string, state: 'open' | 'all' = 'open'): Promise<AlertJson[]> => {
    const r = await server.admin.get(`/api/v1/events/${eventId}/alerts?state=${state}`);
    expect(r.status).toBe(200);
    return r.body.alerts;
  };
  /** Evaluates the event now and answers its open alerts of one rule. */
  const evaluated = async (eventId: string, rule: string): Promise<AlertJson[]> => {
    expect(await server.services.alerts.evaluate(eventId)).toBe(true);
    return (await alerts(eventId)).filter((a) => a.rule === rule);
  };

  describe('POST /devices/heartbeat', () => {
    it('refuses bad input with a 400 naming the field', async () => {
      const { ev, device } = await fresh();
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ pending_scans: undefined }, 'pending_scans'],
        [{ pending_scans: -1 }, '/pending_scans'],
        [{ battery: { level: 1.5, charging: false } }, '/battery/level'],
        [{ battery: { level: 0.5 } }, 'charging'],
        [{ device_time: 'yesterday' }, '/device_time'],
        [{ app_version: '' }, '/app_version'],
        [{ gate_id: 'gate-1' }, '/gate_id'],
        [{ gate_id: '00000000-0000-4000-8000-000000000000' }, '/gate_id'],
        [{ pending_scans: 0, oldest_pending_at: clock }, '/oldest_pending_at'],
        [{ colour: 'red' }, 'colour'],
      ];
      for (const [extra, field] of cases) {
        const r = await beat(device, ev.eventId, extra);
        expect(r.status, JSON.stringify(extra)).toBe(400);
        expect(r.body.error).toBe('INVALID_BODY');
        expect(r.body.message, JSON.stringify(extra)).toContain(field);
      }
      expect(
        (await device.post('/api/v1/devices/heartbeat', { device_time: clock, app_version: 'x', pending_scans: 0 }))
          .body.message,
      ).toContain('event_id');
    });

    it("takes a device's heartbeat only for its own events, and only from a device", async () => {
      const { ev, device } = await fresh();
      const other = await fresh();
      expect((await beat(device, ev.eventId)).status).toBe(200);
      const refused = await beat(device, other.ev.eventId);
      expect(refused.status).toBe(403);
      expect(refused.body.error).toBe('FORBIDDEN');
      // Nothing was written for the other event.
      const health = await server.admin.get(`/api/v1/events/${other.ev.eventId}/devices/health`);
      expect(health.body.devices.map((d: { device_id: string }) => d.device_id)).toEqual([other.deviceId]);
      // An organiser's token is not a device.
      expect((await beat(server.admin, ev.eventId)).status).toBe(401);
      // Another organisation's event is not found.
      const org = await server.admin.post('/api/v1/organisations', { name: `Other ${Math.random()}` });
      const theirs = await seedEvent(server.client(org.body.admin_token));
      expect((await beat(device, theirs.eventId)).status).toBe(404);
    });

    it('publishes device_health_changed only when what organisers see changes', async () => {
      const { ev, device, deviceId } = await fresh();
      const count = (): number =>
        messages.filter((m) => m.type === 'device_health_changed' && m.deviceId === deviceId).length;
      await beat(device, ev.eventId, { pending_scans: 2, battery: { level: 0.8, charging: false } });
      expect(count()).toBe(1); // came online
      await beat(device, ev.eventId, { pending_scans: 2, battery: { level: 0.79, charging: false } });
      expect(count()).toBe(1); // nothing an organiser sees
      await beat(device, ev.eventId, { pending_scans: 3, battery: { level: 0.79, charging: false } });
      expect(count()).toBe(2); // pending count
      await beat(device, ev.eventId, { pending_scans: 3, battery: { level: 0.2, charging: false } });
      expect(count()).toBe(3); // battery band
      clock += 91_000;
      await beat(device, ev.eventId, { pending_scans: 3, battery: { level: 0.2, charging: false } });
      expect(count()).toBe(4); // back online after being offline
    });
  });

  describe('GET /events/:id/devices/health', () => {
    it("shows each device's state: online, gate, staff, pending, gaps, clock, battery, version, failures", async () => {
      const { ev, device, deviceId } = await fresh();
      const staff = await server.admin.post(`/api/v1/events/${ev.eventId}/staff`, {
        username: `ann${Date.now()}`,
        name: 'Ann Gate',
        pin: '4321',
      });
      expect(staff.status).toBe(201);
      const [t1, t2] = await issueTickets(server.admin, ev.eventId, [
        { ticket_type_id: ev.types.ga },
        { ticket_type_id: ev.types.ga },
      ]);
      // An offline log with seq 2 missing, and the device saying it holds 4.
      const log = new TestDevice(device, deviceId, ev.eventId);
      log.scan({ code: t1!.code, at: clock - MIN, gateId: ev.gates.main });
      log.scan({ code: 'nothing', at: clock - MIN });
      log.scan({ code: t2!.code, at: clock - MIN, gateId: ev.gates.main });
      expect(
        (await device.post('/api/v1/offline/sync', { ...log.body(3, 3), device_time: clock, device_last_seq: 4 }))
          .status,
      ).toBe(200);
      expect(
        (await device.post('/api/v1/offline/sync', { ...log.body(1, 1), device_time: clock, device_last_seq: 4 }))
          .status,
      ).toBe(200);
      expect(
        (
          await beat(device, ev.eventId, {
            device_time: clock + 2_000,
            pending_scans: 2,
            oldest_pending_at: clock - 5 * MIN,
            gate_id: ev.gates.main,
            staff_id: staff.body.id,
            battery: { level: 0.42, charging: true },
            app_version: 'web 2.0.0',
            sync_failures: 3,
          })
        ).status,
      ).toBe(200);
      clock += 1_000;
      const r = await server.admin.get(`/api/v1/events/${ev.eventId}/devices/health`);
      expect(r.status).toBe(200);
      expect(r.body.timezone).toBe('Europe/Amsterdam');
      const [d] = r.body.devices;
      expect(d).toMatchObject({
        device_id: deviceId,
        status: 'active',
        online: true,
        gate: { id: ev.gates.main, name: 'Main' },
        staff: { id: staff.body.id, name: 'Ann Gate' },
        pending_scans: 2,
        oldest_pending_age_ms: 5 * MIN + 3_000, // 5 min + 1 s by device time, and its clock 2 s fast
        upload_lag: 3,
        missing: [[2, 2]],
        missing_count: 1,
        clock_offset_ms: 2_000,
        battery: { level: 0.42, charging: true },
        app_version: 'web 2.0.0',
        consecutive_sync_failures: 3,
        sync_failures_24h: 0,
        alerts: [],
        last_heartbeat_at: new Date(clock - 1_000).toISOString(),
        last_success_at: new Date(clock - 1_000).toISOString(),
      });
      clock += 90_000; // 91 s after the heartbeat
      expect((await server.admin.get(`/api/v1/events/${ev.eventId}/devices/health`)).body.devices[0].online).toBe(
        false,
      );

      // Failures the server answered: counted in a row and over 24 hours.
      const pk = (await server.services.fleet.states((await server.services.contexts.get(ev.eventId))!))[0]!.state.pk;
      for (let i = 0; i < 4; i++) await server.services.sync.recordFailure(ev.eventId, pk);
      const after = (await server.admin.get(`/api/v1/events/${ev.eventId}/devices/health`)).body.devices[0];
      expect(after).toMatchObject({ consecutive_sync_failures: 4, sync_failures_24h: 4 });
      clock += 24 * HOUR + 1;
      expect(
        (await server.admin.get(`/api/v1/events/${ev.eventId}/devices/health`)).body.devices[0].sync_failures_24h,
      ).toBe(0);

      // Per device: its sync sessions, logins and scans (no codes). Every field answered passes its response
      // schema (DeviceHistory in core): the tests' response check fails a field the schema would drop.
      const username = staff.body.username as string;
      expect((await device.post(`/api/v1/events/${ev.eventId}/login`, { username, pin: '0000' })).status).toBe(401);
      expect((await device.post(`/api/v1/events/${ev.eventId}/login`, { username, pin: '4321' })).status).toBe(200);
      const history = await server.admin.get(`/api/v1/events/${ev.eventId}/devices/${deviceId}/history`);
      expect(history.status).toBe(200);
      expect(history.body.sync_sessions).toHaveLength(2);
      expect(history.body.sync_sessions[0]).toMatchObject({ status: 'completed', completed_at: expect.any(String) });
      expect(history.body.scans).toHaveLength(2);
      expect(history.body.scans[0]).toMatchObject({ source: 'offline', direction: 'entry', gate_name: 'Main' });
      expect(history.body.logins).toMatchObject([
        { identifier: username, staff_id: staff.body.id, success: true },
        { identifier: username, success: false },
      ]);
      expect(JSON.stringify(history.body)).not.toContain('4321');
      expect(JSON.stringify(history.body)).not.toContain(t1!.code);
      expect((await server.admin.get(`/api/v1/events/${ev.eventId}/devices/nope/history`)).status).toBe(404);
    });
  });

  describe('alert rules at their thresholds (raised, escalated, cleared)', () => {
    it('pending queue: > 100 warning, > 500 critical', async () => {
      const { ev, device } = await fresh();
      await beat(device, ev.eventId, { pending_scans: 100, oldest_pending_at: clock });
      expect(await evaluated(ev.eventId, 'pending_queue')).toEqual([]);
      await beat(device, ev.eventId, { pending_scans: 101, oldest_pending_at: clock });
      const [warning] = await evaluated(ev.eventId, 'pending_queue');
      expect(warning).toMatchObject({
        severity: 'warning',
        subject: { kind: 'device', name: expect.stringMatching(/^Scanner/) },
        detail: { pending_scans: 101 },
      });
      await beat(device, ev.eventId, { pending_scans: 500, oldest_pending_at: clock });
      expect((await evaluated(ev.eventId, 'pending_queue'))[0]).toMatchObject({ id: warning!.id, severity: 'warning' });
      await beat(device, ev.eventId, { pending_scans: 501, oldest_pending_at: clock });
      expect((await evaluated(ev.eventId, 'pending_queue'))[0]).toMatchObject({
        id: warning!.id,
        severity: 'critical',
        detail: { pending_scans: 501 },
      });
      await beat(device, ev.eventId, { pending_scans: 0 });
      expect(await evaluated(ev.eventId, 'pending_queue')).toEqual([]);
      const all = (await alerts(ev.eventId, 'all')).filter((a) => a.rule === 'pending_queue');
      expect(all).toHaveLength(1);
      expect(all[0]!.cleared_at).toBe(new Date(clock).toISOString());
      // Raised (and escalated) and cleared reached the notifier and the bus.
      expect(notified.filter((n) => (n.data.alert as AlertJson).id === warning!.id).map((n) => n.type)).toEqual([
        'alert.raised',
        'alert.raised',
        'alert.cleared',
      ]);
      expect(
        messages
          .filter((m) => m.type === 'alert_changed' && m.alertId === warning!.id)
          .map((m) => m.type === 'alert_changed' && m.state),
      ).toEqual(['raised', 'raised', 'cleared']);
    });

    it('device offline: > 24 h warning, > 72 h critical, while scans are pending or the event runs', async () => {
      const { ev, device } = await fresh({
        starts_at: new Date(clock - HOUR).toISOString(),
        ends_at: new Date(clock + 100 * HOUR).toISOString(),
      });
      await beat(device, ev.eventId, { pending_scans: 0 });
      const t0 = clock;
      clock = t0 + 24 * HOUR;
      expect(await evaluated(ev.eventId, 'device_offline')).toEqual([]);
      clock = t0 + 24 * HOUR + 1;
      const [a] = await evaluated(ev.eventId, 'device_offline');
      expect(a).toMatchObject({ severity: 'warning', detail: { last_seen_at: new Date(t0).toISOString() } });
      clock = t0 + 72 * HOUR;
      expect((await evaluated(ev.eventId, 'device_offline'))[0]).toMatchObject({ id: a!.id, severity: 'warning' });
      clock = t0 + 72 * HOUR + 1;
      expect((await evaluated(ev.eventId, 'device_offline'))[0]).toMatchObject({ id: a!.id, severity: 'critical' });
      await beat(device, ev.eventId);
      expect(await evaluated(ev.eventId, 'device_offline')).toEqual([]);
    });

    it('device offline after the event: only while it holds pending scans', async () => {
      const { ev, device } = await fresh({
        starts_at: new Date(clock - 3 * HOUR).toISOString(),
        ends_at: new Date(clock - HOUR).toISOString(),
      });
      await beat(device, ev.eventId, { pending_scans: 0 });
      clock += 25 * HOUR;
      expect(await evaluated(ev.eventId, 'device_offline')).toEqual([]);
      const other = await fresh({
        starts_at: new Date(clock - 3 * HOUR).toISOString(),
        ends_at: new Date(clock - HOUR).toISOString(),
      });
      await beat(other.device, other.ev.eventId, { pending_scans: 4, oldest_pending_at: clock });
      clock += 25 * HOUR;
      expect(await evaluated(other.ev.eventId, 'device_offline')).toHaveLength(1);
    });

    it('sync failures: more than 10 in a row, counted by the device or by the server', async () => {
      const { ev, device, deviceId } = await fresh();
      await beat(device, ev.eventId, { sync_failures: 10 });
      expect(await evaluated(ev.eventId, 'sync_failures')).toEqual([]);
      await beat(device, ev.eventId, { sync_failures: 11 });
      expect((await evaluated(ev.eventId, 'sync_failures'))[0]).toMatchObject({
        severity: 'critical',
        detail: { consecutive_failures: 11 },
      });
      await beat(device, ev.eventId, { sync_failures: 0 });
      expect(await evaluated(ev.eventId, 'sync_failures')).toEqual([]);
      const ctx = (await server.services.contexts.get(ev.eventId))!;
      const pk = (await server.services.fleet.states(ctx))[0]!.state.pk;
      for (let i = 0; i < 11; i++) await server.services.sync.recordFailure(ev.eventId, pk);
      expect(await evaluated(ev.eventId, 'sync_failures')).toHaveLength(1);
      // A successful sync resets the server's count.
      const log = new TestDevice(device, deviceId, ev.eventId);
      log.scan({ code: 'none', at: clock });
      expect((await device.post('/api/v1/offline/sync', { ...log.body(1, 1), device_time: clock })).status).toBe(200);
      expect(await evaluated(ev.eventId, 'sync_failures')).toEqual([]);
    });

    it('conflicts unresolved: > 24 h warning, > 7 days critical; cleared when resolved', async () => {
      const { ev, device, deviceId } = await fresh({
        starts_at: new Date(clock - HOUR).toISOString(),
        ends_at: new Date(clock + 300 * HOUR).toISOString(),
      });
      const second = await registerDevice(server.admin, 'Second', { event_ids: [ev.eventId] });
      const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
      const a = new TestDevice(device, deviceId, ev.eventId);
      const b = new TestDevice(server.client(second.token), second.deviceId, ev.eventId);
      a.scan({ code: t!.code, at: clock - 2 * MIN, gateId: ev.gates.main });
      b.scan({ code: t!.code, at: clock - MIN, gateId: ev.gates.main });
      expect((await a.client.post('/api/v1/offline/sync', { ...a.body(1, 1), device_time: clock })).status).toBe(200);
      expect((await b.client.post('/api/v1/offline/sync', { ...b.body(1, 1), device_time: clock })).status).toBe(200);
      const conflicts = (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts?status=open`)).body.conflicts;
      expect(conflicts).toHaveLength(1);
      const t0 = clock;
      clock = t0 + 24 * HOUR;
      await beat(device, ev.eventId);
      expect(await evaluated(ev.eventId, 'conflicts_unresolved')).toEqual([]);
      clock = t0 + 24 * HOUR + 1;
      const [w] = await evaluated(ev.eventId, 'conflicts_unresolved');
      expect(w).toMatchObject({
        severity: 'warning',
        subject: { kind: 'event', id: ev.eventId, name: 'Test Event' },
        detail: { open: 1 },
      });
      clock = t0 + 7 * 24 * HOUR;
      expect((await evaluated(ev.eventId, 'conflicts_unresolved'))[0]!.severity).toBe('warning');
      clock = t0 + 7 * 24 * HOUR + 1;
      expect((await evaluated(ev.eventId, 'conflicts_unresolved'))[0]).toMatchObject({
        id: w!.id,
        severity: 'critical',
      });
      expect(
        (
          await server.admin.post(`/api/v1/conflicts/${conflicts[0].id}/resolve`, {
            resolution: 'legitimate',
            note: 'checked',
          })
        ).status,
      ).toBe(200);
      expect(await evaluated(ev.eventId, 'conflicts_unresolved')).toEqual([]);
    });

    it('sequence gap: open more than 15 minutes; cleared when the missing scans arrive', async () => {
      const { ev, device, deviceId } = await fresh();
      const log = new TestDevice(device, deviceId, ev.eventId);
      for (let i = 0; i < 3; i++) log.scan({ code: `none-${i}`, at: clock });
      expect((await device.post('/api/v1/offline/sync', { ...log.body(1, 1), device_time: clock })).status).toBe(200);
      expect((await device.post('/api/v1/offline/sync', { ...log.body(3, 3), device_time: clock })).status).toBe(200);
      await beat(device, ev.eventId);
      const t0 = clock;
      clock = t0 + 15 * MIN;
      expect(await evaluated(ev.eventId, 'sequence_gap')).toEqual([]);
      clock = t0 + 15 * MIN + 1;
      expect((await evaluated(ev.eventId, 'sequence_gap'))[0]).toMatchObject({
        severity: 'warning',
        detail: { missing: [[2, 2]], missing_count: 1 },
      });
      expect((await device.post('/api/v1/offline/sync', { ...log.body(2, 2), device_time: clock })).status).toBe(200);
      expect(await evaluated(ev.eventId, 'sequence_gap')).toEqual([]);
    });

    it('clock offset: more than 5 minutes either way', async () => {
      const { ev, device } = await fresh();
      await beat(device, ev.eventId, { device_time: clock + 5 * MIN });
      expect(await evaluated(ev.eventId, 'clock_offset')).toEqual([]);
      await beat(device, ev.eventId, { device_time: clock - 5 * MIN - 1 });
      expect((await evaluated(ev.eventId, 'clock_offset'))[0]).toMatchObject({
        severity: 'warning',
        detail: { clock_offset_min: -5 },
      });
      await beat(device, ev.eventId, { device_time: clock + 5 * MIN + 1 });
      expect(await evaluated(ev.eventId, 'clock_offset')).toHaveLength(1);
      await beat(device, ev.eventId, { device_time: clock });
      expect(await evaluated(ev.eventId, 'clock_offset')).toEqual([]);
    });

    it('battery below 15 % while holding pending scans', async () => {
      const { ev, device } = await fresh();
      await beat(device, ev.eventId, {
        battery: { level: 0.15, charging: false },
        pending_scans: 3,
        oldest_pending_at: clock,
      });
      expect(await evaluated(ev.eventId, 'battery_low')).toEqual([]);
      await beat(device, ev.eventId, { battery: { level: 0.14, charging: false }, pending_scans: 0 });
      expect(await evaluated(ev.eventId, 'battery_low')).toEqual([]);
      await beat(device, ev.eventId, {
        battery: { level: 0.14, charging: false },
        pending_scans: 3,
        oldest_pending_at: clock,
      });
      expect((await evaluated(ev.eventId, 'battery_low'))[0]).toMatchObject({
        severity: 'warning',
        detail: { battery_percent: 14, pending_scans: 3 },
      });
      await beat(device, ev.eventId, { battery: { level: 0.14, charging: true }, pending_scans: 0 });
      expect(await evaluated(ev.eventId, 'battery_low')).toEqual([]);
    });

    it('a zone over capacity', async () => {
      const { ev, device } = await fresh();
      const zone = (capacity: number) =>
        server.admin.request('PATCH', `/api/v1/events/${ev.eventId}/zones/${ev.zones.general}`, { capacity });
      expect((await zone(2)).status).toBe(200);
      const tickets = await issueTickets(server.admin, ev.eventId, [
        { ticket_type_id: ev.types.ga },
        { ticket_type_id: ev.types.ga },
      ]);
      const session = await device.post('/api/v1/scanning/sessions', { event_id: ev.eventId, gate_id: ev.gates.main });
      for (const t of tickets)
        expect(
          (await device.post('/api/v1/scanning/scan', { code: t.code, session_id: session.body.id })).body.result,
        ).toBe('valid');
      await server.services.contexts.invalidate(ev.eventId);
      expect(await evaluated(ev.eventId, 'zone_over_capacity')).toEqual([]);
      expect((await zone(1)).status).toBe(200);
      server.services.contexts.invalidate(ev.eventId);
      expect((await evaluated(ev.eventId, 'zone_over_capacity'))[0]).toMatchObject({
        severity: 'critical',
        subject: { kind: 'zone', id: ev.zones.general, name: 'General' },
        detail: { inside: 2, capacity: 1 },
      });
      expect((await zone(5)).status).toBe(200);
      server.services.contexts.invalidate(ev.eventId);
      expect(await evaluated(ev.eventId, 'zone_over_capacity')).toEqual([]);
    });
  });

  describe('thresholds per event', () => {
    it("uses the event's own thresholds, validated", async () => {
      const { ev, device } = await fresh({ settings: { alerts: { pending_warning: 5, pending_critical: 10 } } });
      await beat(device, ev.eventId, { pending_scans: 6, oldest_pending_at: clock });
      expect((await evaluated(ev.eventId, 'pending_queue'))[0]!.severity).toBe('warning');
      const bad = await server.admin.request('PATCH', `/api/v1/events/${ev.eventId}`, {
        settings: { alerts: { pending_warning: 20, pending_critical: 10 } },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toContain('/settings/alerts/pending_warning');
      const range = await server.admin.request('PATCH', `/api/v1/events/${ev.eventId}`, {
        settings: { alerts: { battery_percent: 101 } },
      });
      expect(range.status).toBe(400);
      expect(range.body.message).toContain('battery_percent');
      const created = await server.admin.post('/api/v1/events', {
        name: 'Bad',
        starts_at: '2026-08-01T10:00Z',
        ends_at: '2026-08-02T10:00Z',
        settings: { alerts: { device_offline_warning_min: 100, device_offline_critical_min: 50 } },
      });
      expect(created.status).toBe(400);
      expect(created.body.message).toContain('/settings/alerts/device_offline_warning_min');
      const ok = await server.admin.request('PATCH', `/api/v1/events/${ev.eventId}`, {
        settings: { alerts: { pending_warning: 1, pending_critical: 2 } },
      });
      expect(ok.status).toBe(200);
      server.services.contexts.invalidate(ev.eventId);
      expect((await evaluated(ev.eventId, 'pending_queue'))[0]!.severity).toBe('critical');
    });
  });

  describe('acknowledging', () => {
    it('a supervisor acknowledges (audited, once); a viewer may not; the alert stays open until its condition ends', async () => {
      const { ev, device } = await fresh();
      await beat(device, ev.eventId, { pending_scans: 101, oldest_pending_at: clock });
      const [a] = await evaluated(ev.eventId, 'pending_queue');
      const token = async (role: string): Promise<Client> =>
        server.client(
          (await server.admin.post('/api/v1/tokens', { name: `${role} ${Math.random()}`, role })).body.token,
        );
      const viewer = await token('viewer');
      const supervisor = await token('supervisor');
      expect((await viewer.post(`/api/v1/alerts/${a!.id}/acknowledge`)).status).toBe(403);
      const acked = await supervisor.post(`/api/v1/alerts/${a!.id}/acknowledge`);
      expect(acked.status).toBe(200);
      expect(acked.body).toMatchObject({
        id: a!.id,
        acknowledged_by: expect.stringMatching(/^supervisor/),
        acknowledged_at: new Date(clock).toISOString(),
        cleared_at: null,
      });
      const firstAt = acked.body.acknowledged_at;
      clock += 1_000;
      expect((await server.admin.post(`/api/v1/alerts/${a!.id}/acknowledge`)).body.acknowledged_at).toBe(firstAt);
      expect((await alerts(ev.eventId)).find((x) => x.id === a!.id)).toMatchObject({ acknowledged_at: firstAt });
      const audit = (await server.admin.get(`/api/v1/events/${ev.eventId}/audit`)).body.entries as Array<{
        action: string;
        subject_id: string;
      }>;
      expect(audit.filter((e) => e.action === 'alert.acknowledge').map((e) => e.subject_id)).toEqual([a!.id]);
      expect(
        messages.some((m) => m.type === 'alert_changed' && m.alertId === a!.id && m.state === 'acknowledged'),
      ).toBe(true);
      expect((await server.admin.post('/api/v1/alerts/00000000-0000-4000-8000-000000000000/acknowledge')).status).toBe(
        404,
      );
      // Another organisation does not find it.
      const org = await server.admin.post('/api/v1/organisations', { name: `Third ${Math.random()}` });
      expect((await server.client(org.body.admin_token).post(`/api/v1/alerts/${a!.id}/acknowledge`)).status).toBe(404);
      expect((await server.client(org.body.admin_token).get(`/api/v1/events/${ev.eventId}/alerts`)).status).toBe(404);
      expect((await server.admin.get(`/api/v1/events/${ev.eventId}/alerts?state=some`)).status).toBe(400);
      // The fleet table shows the device's open alert.
      const row = (await server.admin.get(`/api/v1/events/${ev.eventId}/devices/health`)).body.devices[0];
      expect(row.alerts.map((x: AlertJson) => x.id)).toEqual([a!.id]);
    });
  });
});

describeEachBackend('alert evaluation on the timer', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db, { config: { alertIntervalMs: 100 } });
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  it('raises an alert with nobody reading them', async () => {
    const ev = await seedEvent(server.admin);
    const d = await registerDevice(server.admin, 'Timer scanner', { event_ids: [ev.eventId] });
    const notified: OrganiserNotification[] = [];
    server.services.notifier = {
      notify: async (_tx, n) => {
        notified.push(...n);
      },
    };
    expect(
      (
        await server.client(d.token).post('/api/v1/devices/heartbeat', {
          event_id: ev.eventId,
          device_time: Date.now(),
          app_version: 'x',
          pending_scans: 600,
          oldest_pending_at: Date.now(),
        })
      ).status,
    ).toBe(200);
    await eventually(async () => expect(notified.map((n) => n.type)).toEqual(['alert.raised']), 20_000);
    expect((await server.admin.get(`/api/v1/events/${ev.eventId}/alerts`)).body.alerts).toMatchObject([
      { rule: 'pending_queue', severity: 'critical' },
    ]);
  });
});

/**
 * Two instances evaluating the same event at the same moment: the advisory lock lets one of them do it. The
 * control run without the lock shows the race: both read "no open alert" and both insert, and the second
 * evaluation fails on the one-open-alert index.
 */
describePostgres('alert evaluation lock', () => {
  let drop: () => Promise<void>;
  let server: TestServer;
  let url = '';
  const pools: Database[] = [];
  beforeAll(async () => {
    const fresh = await freshPostgresDatabase();
    drop = fresh.drop;
    url = fresh.url;
    const db = openPostgres({ connectionString: fresh.url });
    pools.push(db);
    server = await startTestServer(db, { config: { alertIntervalMs: 0 } });
  });
  afterAll(async () => {
    await server?.close();
    for (const db of pools) await db.close();
    await drop?.();
  });

  async function race(
    lock: boolean,
  ): Promise<{ results: PromiseSettledResult<boolean>[]; alerts: number; notified: number }> {
    const ev = await seedEvent(server.admin);
    const d = await registerDevice(server.admin, 'Race scanner', { event_ids: [ev.eventId] });
    await server.client(d.token).post('/api/v1/devices/heartbeat', {
      event_id: ev.eventId,
      device_time: Date.now(),
      app_version: 'x',
      pending_scans: 200,
      oldest_pending_at: Date.now(),
    });
    // Both evaluators wait after reading the open alerts until both have read them (or 2 s: with the lock only one gets there).
    let arrived = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((r) => {
      release = r;
    });
    const afterRead = async (): Promise<void> => {
      arrived++;
      if (arrived === 2) release();
      await Promise.race([bothRead, new Promise((r) => setTimeout(r, 2_000))]);
    };
    let notified = 0;
    const instances = [0, 1].map(() => {
      const db = openPostgres({ connectionString: url });
      pools.push(db);
      return createServices(db, {
        secret: Buffer.from(TEST_SECRET),
        redisUrl: undefined,
        ticketCacheSize: 100,
        log: pino({ level: 'silent' }),
        notifier: {
          notify: async (_tx, n) => {
            notified += n.length;
          },
        },
        alerts: { unsafeDisableLock: !lock, afterRead },
      });
    });
    const results = await Promise.allSettled(instances.map((s) => s.alerts.evaluate(ev.eventId)));
    for (const s of instances) s.auth.close();
    const open = (await server.admin.get(`/api/v1/events/${ev.eventId}/alerts`)).body.alerts as AlertJson[];
    return { results, alerts: open.length, notified };
  }
  it('control, without the lock: both evaluators write and one fails on the one-open-alert index', async () => {
    const r = await race(false);
    expect(r.results.filter((x) => x.status === 'rejected')).toHaveLength(1);
    expect(r.alerts).toBe(1);
  });

  it('with the lock: one evaluates, the other skips, one alert and one notification', async () => {
    const r = await race(true);
    expect(r.results.map((x) => x.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(r.results.map((x) => (x as PromiseFulfilledResult<boolean>).value).sort()).toEqual([false, true]);
    expect(r.alerts).toBe(1);
    expect(r.notified).toBe(1);
  });
});
