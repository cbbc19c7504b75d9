/**
 * Notifications are queued in the transaction of their cause (the outbox pattern, issue 13 §3): an alert raised or
 * cleared, a conflict opened or resolved, a device suspended or revoked and its webhook delivery commit together or
 * not at all. Each test makes the outbox's INSERT fail (a trigger: the database itself refuses, as it would on a
 * crash or an outage between the two) and shows the cause was not committed without its notification; then, the
 * outbox working again, that the same change stores both. When the enqueue ran after the cause's commit, each of
 * these tests failed: the change was stored and its notification was lost.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeEachBackend,
  issueTickets,
  registerDevice,
  seedEvent,
  startTestServer,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from './harness.ts';
import { TestDevice } from './offline-helpers.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

describeEachBackend('notifications queued in the transaction of their cause', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  // Ahead of the wall clock: devices' last_seen_at (written with the database's now()) never outruns it.
  const clock = Date.now() + 10 * MIN;

  beforeAll(async () => {
    tdb = await backend.open();
    // The timers are off: the tests evaluate alerts themselves, and no worker drains the outbox under them.
    server = await startTestServer(tdb.db, { now: () => clock, config: { alertIntervalMs: 0, notifyIntervalMs: 0 } });
    ev = await seedEvent(server.admin, {
      starts_at: new Date(clock - HOUR).toISOString(),
      ends_at: new Date(clock + 10 * HOUR).toISOString(),
    });
    const hook = await server.admin.post('/api/v1/webhooks', {
      url: 'http://127.0.0.1:9/never-called',
      events: [
        'alert.raised',
        'alert.cleared',
        'conflict.opened',
        'conflict.resolved',
        'device.revoked',
        'device.suspended',
      ],
    });
    expect(hook.status).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  /** The queued deliveries of one type whose body mentions `id` (an alert, conflict or device id). */
  const queued = async (type: string, id: string): Promise<number> =>
    (
      await tdb.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM webhook_deliveries WHERE type = $1 AND strpos(body, $2) > 0`,
        [type, id],
      )
    )[0]!.n;

  /** Runs `fn` while every insert into the webhook outbox fails, as a database failure at the enqueue would. */
  async function outboxFailing<T>(fn: () => Promise<T>): Promise<T> {
    await tdb.db.exec(`
      CREATE FUNCTION test_outbox_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'outbox down'; END $$;
      CREATE TRIGGER test_outbox_down BEFORE INSERT ON webhook_deliveries FOR EACH ROW EXECUTE FUNCTION test_outbox_down();`);
    try {
      return await fn();
    } finally {
      await tdb.db.exec(`DROP TRIGGER test_outbox_down ON webhook_deliveries; DROP FUNCTION test_outbox_down();`);
    }
  }

  const openAlerts = async (): Promise<Array<{ id: string; rule: string }>> =>
    (await server.admin.get(`/api/v1/events/${ev.eventId}/alerts?state=open`)).body.alerts;

  it('alert raised and alert cleared', async () => {
    const d = await registerDevice(server.admin, 'Queue', { event_ids: [ev.eventId] });
    const beat = (pending: number) =>
      server.client(d.token).post('/api/v1/devices/heartbeat', {
        event_id: ev.eventId,
        device_time: clock,
        app_version: 'web 1',
        pending_scans: pending,
        ...(pending > 0 ? { oldest_pending_at: clock } : {}),
      });
    expect((await beat(600)).status).toBe(200);

    await outboxFailing(() => expect(server.services.alerts.evaluate(ev.eventId)).rejects.toThrow());
    expect(await openAlerts()).toEqual([]);
    expect(await server.services.alerts.evaluate(ev.eventId)).toBe(true);
    const [raised] = await openAlerts();
    expect(raised).toMatchObject({ rule: 'pending_queue' });
    expect(await queued('alert.raised', raised!.id)).toBe(1);

    expect((await beat(0)).status).toBe(200);
    await outboxFailing(() => expect(server.services.alerts.evaluate(ev.eventId)).rejects.toThrow());
    expect((await openAlerts()).map((a) => a.id)).toEqual([raised!.id]);
    expect(await queued('alert.cleared', raised!.id)).toBe(0);
    expect(await server.services.alerts.evaluate(ev.eventId)).toBe(true);
    expect(await openAlerts()).toEqual([]);
    expect(await queued('alert.cleared', raised!.id)).toBe(1);
  });

  it('conflict opened by an offline sync, and conflict resolved', async () => {
    const first = await registerDevice(server.admin, 'First', { event_ids: [ev.eventId] });
    const second = await registerDevice(server.admin, 'Second', { event_ids: [ev.eventId] });
    const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    const a = new TestDevice(server.client(first.token), first.deviceId, ev.eventId);
    const b = new TestDevice(server.client(second.token), second.deviceId, ev.eventId);
    a.scan({ code: t!.code, at: clock - 2 * MIN, gateId: ev.gates.main });
    b.scan({ code: t!.code, at: clock - MIN, gateId: ev.gates.main });
    expect((await a.client.post('/api/v1/offline/sync', { ...a.body(1, 1), device_time: clock })).status).toBe(200);
    const conflicts = async (): Promise<Array<{ id: string; status: string }>> =>
      (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts?status=all`)).body.conflicts;

    // The upload that opens the conflict fails whole: no scan, no conflict, no delivery; the device uploads again.
    const failed = await outboxFailing(() =>
      b.client.post('/api/v1/offline/sync', { ...b.body(1, 1), device_time: clock }),
    );
    expect(failed.status).toBe(500);
    expect(await conflicts()).toEqual([]);
    expect(
      (
        await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM scans WHERE device_id = $1`, [
          second.deviceId,
        ])
      )[0]!.n,
    ).toBe(0);
    expect(
      (
        await tdb.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM webhook_deliveries WHERE type = 'conflict.opened'`,
        )
      )[0]!.n,
    ).toBe(0);
    expect((await b.client.post('/api/v1/offline/sync', { ...b.body(1, 1), device_time: clock })).status).toBe(200);
    const [opened] = await conflicts();
    expect(opened).toMatchObject({ status: 'open' });
    expect(await queued('conflict.opened', opened!.id)).toBe(1);

    const resolve = () =>
      server.admin.post(`/api/v1/conflicts/${opened!.id}/resolve`, { resolution: 'fraud', note: 'checked' });
    expect((await outboxFailing(resolve)).status).toBe(500);
    expect((await conflicts())[0]).toMatchObject({ id: opened!.id, status: 'open' });
    expect(await queued('conflict.resolved', opened!.id)).toBe(0);
    expect((await resolve()).status).toBe(200);
    expect((await conflicts())[0]).toMatchObject({ id: opened!.id, status: 'resolved' });
    expect(await queued('conflict.resolved', opened!.id)).toBe(1);
  });

  it('conflict opened by a seed-000 reconcile', async () => {
    const d = await registerDevice(server.admin, 'Legacy', { event_ids: [ev.eventId] });
    const client = server.client(d.token);
    const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    // The same ticket let in twice offline: the later admission loses (first scan wins) and opens a conflict.
    const body = {
      device_id: d.deviceId,
      scans: [2, 1].map((m) => ({
        ticket_id: t!.id,
        scanned_at: new Date(clock - m * MIN).toISOString(),
        result: 'ALLOW',
      })),
    };
    const conflictsOf = async (): Promise<Array<{ id: string }>> =>
      (
        (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts?status=all`)).body.conflicts as Array<{
          id: string;
          ticket: { id: string };
        }>
      ).filter((c) => c.ticket.id === t!.id);
    expect((await outboxFailing(() => client.post('/api/v1/offline/reconcile', body))).status).toBe(500);
    expect(await conflictsOf()).toEqual([]);
    expect(
      (await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM scans WHERE device_id = $1`, [d.deviceId]))[0]!
        .n,
    ).toBe(0);
    const done = await client.post('/api/v1/offline/reconcile', body);
    expect(done.body).toMatchObject({ reconciled: 2, failed: 0 });
    const [opened] = await conflictsOf();
    expect(opened).toBeDefined();
    expect(await queued('conflict.opened', opened!.id)).toBe(1);
  });

  it('device suspended, and device revoked with its quarantined admissions opened as conflicts', async () => {
    const d = await registerDevice(server.admin, 'Lost', { event_ids: [ev.eventId] });
    const status = async (): Promise<string> =>
      (await tdb.db.query<{ status: string }>(`SELECT status FROM devices WHERE device_id = $1`, [d.deviceId]))[0]!
        .status;

    const suspend = () => server.admin.post(`/api/v1/devices/${d.deviceId}/suspend`, { reason: 'left on a table' });
    expect((await outboxFailing(suspend)).status).toBe(500);
    expect(await status()).toBe('active');
    expect(await queued('device.suspended', d.deviceId)).toBe(0);
    expect((await suspend()).status).toBe(200);
    expect(await status()).toBe('suspended');
    expect(await queued('device.suspended', d.deviceId)).toBe(1);
    expect((await server.admin.post(`/api/v1/devices/${d.deviceId}/activate`, {})).status).toBe(200);

    // An offline admission after the theft: revoking from before it quarantines it into a conflict.
    const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    const log = new TestDevice(server.client(d.token), d.deviceId, ev.eventId);
    log.scan({ code: t!.code, at: clock - MIN, gateId: ev.gates.main });
    expect((await log.client.post('/api/v1/offline/sync', { ...log.body(1, 1), device_time: clock })).status).toBe(200);
    const revoke = () =>
      server.admin.post(`/api/v1/devices/${d.deviceId}/revoke`, {
        reason: 'stolen',
        effective_at: new Date(clock - 5 * MIN).toISOString(),
      });
    expect((await outboxFailing(revoke)).status).toBe(500);
    expect(await status()).toBe('active');
    expect(await queued('device.revoked', d.deviceId)).toBe(0);
    expect((await revoke()).status).toBe(200);
    expect(await status()).toBe('revoked');
    expect(await queued('device.revoked', d.deviceId)).toBe(1);
    const inbox = (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts?status=open`)).body
      .conflicts as Array<{ id: string; reason: string; ticket: { id: string } }>;
    const quarantined = inbox.find((c) => c.ticket.id === t!.id);
    expect(quarantined).toMatchObject({ reason: 'device_revoked' });
    expect(await queued('conflict.opened', quarantined!.id)).toBe(1);
  });

  it('a revocation whose quarantine fails is not applied: no device revoked with its admissions still counted', async () => {
    const d = await registerDevice(server.admin, 'Stolen', { event_ids: [ev.eventId] });
    const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    const log = new TestDevice(server.client(d.token), d.deviceId, ev.eventId);
    log.scan({ code: t!.code, at: clock - MIN, gateId: ev.gates.main });
    expect((await log.client.post('/api/v1/offline/sync', { ...log.body(1, 1), device_time: clock })).status).toBe(200);
    const revoke = () =>
      server.admin.post(`/api/v1/devices/${d.deviceId}/revoke`, {
        reason: 'stolen',
        effective_at: new Date(clock - 5 * MIN).toISOString(),
      });
    await tdb.db.exec(`
      CREATE FUNCTION test_quarantine_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'quarantine down'; END $$;
      CREATE TRIGGER test_quarantine_down BEFORE INSERT ON conflicts FOR EACH ROW EXECUTE FUNCTION test_quarantine_down();`);
    try {
      expect((await revoke()).status).toBe(500);
    } finally {
      await tdb.db.exec(`DROP TRIGGER test_quarantine_down ON conflicts; DROP FUNCTION test_quarantine_down();`);
    }
    const state = async () =>
      (
        await tdb.db.query<{ status: string; record_status: string }>(
          `SELECT d.status, s.record_status FROM devices d JOIN scans s ON s.device_pk = d.id WHERE d.device_id = $1`,
          [d.deviceId],
        )
      )[0];
    // Before, the status change committed on its own: revoked, its admission still of record, nothing to review.
    expect(await state()).toEqual({ status: 'active', record_status: 'admitted' });
    expect(await queued('device.revoked', d.deviceId)).toBe(0);
    expect((await revoke()).status).toBe(200);
    expect(await state()).toEqual({ status: 'revoked', record_status: 'quarantined' });
    expect(await queued('device.revoked', d.deviceId)).toBe(1);
  });
});
