import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../src/crypto/tokens.ts';
import { migrate } from '../src/db/migrate.ts';
import {
  describeEachBackend,
  issueTickets,
  seedEvent,
  startTestServer,
  type Client,
  type Reply,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from './harness.ts';
import { TestDevice } from './offline-helpers.ts';

/** What one organisation's devices may see: nothing of another organisation's devices, only their own events. */
describeEachBackend('device scope', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  /** A second organisation's admin. */
  let other: Client;

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db);
    ev = await seedEvent(server.admin);
    const org = await server.admin.post('/api/v1/organisations', { name: 'Other Org' });
    expect(org.status).toBe(201);
    other = server.client(org.body.admin_token);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  describe('device ids belong to their organisation', () => {
    it('two organisations register the same device id, and neither learns of the other', async () => {
      const theirEvent = await seedEvent(other);
      const mine = await server.admin.post('/api/v1/devices', { name: 'North gate', device_id: 'gate-1' });
      const theirs = await other.post('/api/v1/devices', { name: 'Their gate', device_id: 'gate-1' });
      // The second registration is answered exactly as a fresh id would be: nothing tells the id was taken elsewhere.
      expect(mine.status).toBe(201);
      expect(theirs.status).toBe(201);
      expect(theirs.body).toMatchObject({ device_id: 'gate-1', name: 'Their gate', status: 'active' });
      // Within one organisation an id is still taken once.
      expect((await other.post('/api/v1/devices', { name: 'Again', device_id: 'gate-1' })).status).toBe(409);

      const listed = (await other.get('/api/v1/devices')).body.devices as Array<{ device_id: string; name: string }>;
      expect(listed.filter((d) => d.device_id === 'gate-1').map((d) => d.name)).toEqual(['Their gate']);
      expect(JSON.stringify(listed)).not.toContain('North gate');

      // Each organisation acts on its own device only: suspending theirs leaves mine scanning.
      expect((await other.post('/api/v1/devices/gate-1/suspend', { reason: 'test' })).status).toBe(200);
      const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
      const session = await server
        .client(mine.body.token)
        .post('/api/v1/scanning/sessions', { event_id: ev.eventId, gate_id: ev.gates.main });
      expect(session.status).toBe(201);
      const myScan = await server
        .client(mine.body.token)
        .post('/api/v1/scanning/scan', { code: t!.code, session_id: session.body.id });
      expect(myScan.body).toMatchObject({ result: 'valid', scanned_by: 'gate-1', scanned_by_name: 'North gate' });
      expect(
        (
          await server.client(theirs.body.token).post('/api/v1/scanning/scan', {
            code: t!.code,
            event_id: theirEvent.eventId,
            gate_id: theirEvent.gates.main,
          })
        ).body.error,
      ).toBe('DEVICE_SUSPENDED');
      expect(
        ((await server.admin.get('/api/v1/devices')).body.devices as Array<{ device_id: string; status: string }>).find(
          (d) => d.device_id === 'gate-1',
        )?.status,
      ).toBe('active');

      // Organisers' views of an event's devices hold their own device only.
      const status = await server.admin.get(`/api/v1/offline/sync/status/${ev.eventId}/gate-1`);
      expect(status.status).toBe(200);
      expect(status.body.total_scans).toBe(1);
      const health = await server.admin.get(`/api/v1/events/${ev.eventId}/offline-health`);
      expect(
        (health.body.devices as Array<{ device_id: string; name: string }>)
          .filter((d) => d.device_id === 'gate-1')
          .map((d) => d.name),
      ).toEqual(['North gate']);
    });

    it('a paired device may carry an id another organisation uses', async () => {
      const theirEvent = await seedEvent(other);
      const code = await other.post('/api/v1/devices/pairing-codes', { event_id: theirEvent.eventId });
      const paired = await server
        .client('')
        .post('/api/v1/devices/pair', { code: code.body.code, public_key: Buffer.alloc(32, 3).toString('base64url') });
      expect(paired.status).toBe(201);
      // The same id registered in this organisation afterwards is not refused either.
      expect(
        (await server.admin.post('/api/v1/devices', { name: 'Same id', device_id: paired.body.device_id })).status,
      ).toBe(201);
    });
  });

  describe('devices use the events they were registered or paired for', () => {
    /** Every way a device reaches an event, each answered with its HTTP status (and error code). */
    async function reach(
      device: Client,
      deviceId: string,
      event: SeededEvent,
      code: string,
    ): Promise<Record<string, string>> {
      const e = event.eventId;
      const what = (r: Reply): string => (r.status < 300 ? String(r.status) : `${r.status} ${r.body.error}`);
      const upload = new TestDevice(device, deviceId, e);
      upload.scan({ code, at: Date.now() });
      const reconciled = await device.post('/api/v1/offline/reconcile', {
        device_id: deviceId,
        scans: [
          {
            ticket_id: (await server.admin.get(`/api/v1/events/${e}/tickets`)).body.tickets[0].id,
            scanned_at: new Date().toISOString(),
            result: 'DENY',
          },
        ],
      });
      return {
        manifest: what(await device.get(`/api/v1/offline/manifest/${e}?device_id=${deviceId}`)),
        feed: what(await device.get(`/api/v1/offline/events?event_id=${e}`)),
        sync: what(await upload.upload()),
        // The device has synced when it may: its status is there.
        status: what(await device.get(`/api/v1/offline/sync/status/${e}/${deviceId}`)),
        session: what(await device.post('/api/v1/scanning/sessions', { event_id: e, gate_id: event.gates.main })),
        scan: what(await device.post('/api/v1/scanning/scan', { code, event_id: e, gate_id: event.gates.main })),
        staff_login: what(await device.post(`/api/v1/events/${e}/login`, { username: 'nobody', pin: '0000' })),
        reconcile: reconciled.body.results?.[0]?.status ?? what(reconciled),
      };
    }
    const allowed = {
      manifest: '200',
      feed: '200',
      sync: '200',
      status: '200',
      session: '201',
      scan: '200',
      staff_login: '401 INVALID_LOGIN',
      reconcile: 'SUCCESS',
    };
    const refused = {
      manifest: '403 FORBIDDEN',
      feed: '403 FORBIDDEN',
      sync: '403 FORBIDDEN',
      status: '403 FORBIDDEN',
      session: '403 FORBIDDEN',
      scan: '403 FORBIDDEN',
      staff_login: '403 FORBIDDEN',
      reconcile: 'ERROR',
    };

    it('a paired device reads only its event until an organiser adds another', async () => {
      const second = await seedEvent(server.admin, { name: 'Second night' });
      const [t1] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
      const [t2] = await issueTickets(server.admin, second.eventId, [{ ticket_type_id: second.types.ga }]);
      const code = await server.admin.post('/api/v1/devices/pairing-codes', { event_id: ev.eventId });
      const paired = await server
        .client('')
        .post('/api/v1/devices/pair', { code: code.body.code, public_key: Buffer.alloc(32, 5).toString('base64url') });
      expect(paired.body.device.event_ids).toEqual([ev.eventId]);
      const device = server.client(paired.body.token);
      const deviceId = paired.body.device_id as string;

      expect(await reach(device, deviceId, ev, t1!.code)).toEqual(allowed);
      expect(await reach(device, deviceId, second, t2!.code)).toEqual(refused);
      // The refusal says what to do.
      const refusal = await device.get(`/api/v1/offline/manifest/${second.eventId}?device_id=${deviceId}`);
      expect(refusal.body.message).toBe(
        `This device is not registered for this event; an organiser can add the event to it (POST /api/v1/devices/${deviceId}/events)`,
      );
      // Another organisation's event stays unknown, not forbidden.
      const theirs = await seedEvent(other);
      expect((await device.get(`/api/v1/offline/manifest/${theirs.eventId}?device_id=${deviceId}`)).status).toBe(404);

      // An organiser widens it: at once on this instance (the cached device is dropped).
      expect((await other.post(`/api/v1/devices/${deviceId}/events`, { event_ids: [theirs.eventId] })).status).toBe(
        404,
      );
      expect(
        (await server.admin.post(`/api/v1/devices/${deviceId}/events`, { event_ids: [theirs.eventId] })).status,
      ).toBe(404);
      const widened = await server.admin.post(`/api/v1/devices/${deviceId}/events`, { event_ids: [second.eventId] });
      expect(widened.status).toBe(200);
      expect(widened.body.event_ids).toEqual([ev.eventId, second.eventId].sort());
      expect((await device.get(`/api/v1/offline/manifest/${second.eventId}?device_id=${deviceId}`)).status).toBe(200);
      const listed = (
        (await server.admin.get('/api/v1/devices')).body.devices as Array<{
          device_id: string;
          event_ids: string[] | null;
        }>
      ).find((d) => d.device_id === deviceId);
      expect(listed?.event_ids).toEqual([ev.eventId, second.eventId].sort());
    });

    it('a device registered for some events uses those; one registered without event_ids, every event', async () => {
      const second = await seedEvent(server.admin, { name: 'Matinee' });
      const [t1] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
      const [t2] = await issueTickets(server.admin, second.eventId, [{ ticket_type_id: second.types.ga }]);
      const scoped = await server.admin.post('/api/v1/devices', { name: 'Matinee only', event_ids: [second.eventId] });
      expect(scoped.body.event_ids).toEqual([second.eventId]);
      expect(await reach(server.client(scoped.body.token), scoped.body.device_id, second, t2!.code)).toEqual(allowed);
      expect(await reach(server.client(scoped.body.token), scoped.body.device_id, ev, t1!.code)).toEqual(refused);

      const everywhere = await server.admin.post('/api/v1/devices', { name: 'Roaming' });
      expect(everywhere.body.event_ids).toBeNull();
      expect(
        (await server.admin.post(`/api/v1/devices/${everywhere.body.device_id}/events`, { event_ids: [ev.eventId] }))
          .body.event_ids,
      ).toBeNull();
      const [t3] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
      expect(await reach(server.client(everywhere.body.token), everywhere.body.device_id, ev, t3!.code)).toEqual(
        allowed,
      );

      // Events of another organisation, or none at all, cannot be given.
      const theirs = await seedEvent(other);
      expect((await server.admin.post('/api/v1/devices', { name: 'Hijack', event_ids: [theirs.eventId] })).status).toBe(
        404,
      );
      expect((await server.admin.post('/api/v1/devices', { name: 'Nothing', event_ids: [] })).status).toBe(400);
    });
  });

  it('after the upgrade (migration 008) a paired device keeps the events it was paired for and has used; a registered one, every event', async () => {
    const old = await backend.open();
    try {
      await migrate(old.db, { before: '008' });
      const org = randomUUID();
      const [paired, used, unused] = [randomUUID(), randomUUID(), randomUUID()];
      await old.db.query(`INSERT INTO organisations (id, name) VALUES ($1, 'Before')`, [org]);
      for (const id of [paired, used, unused]) {
        await old.db.query(
          `INSERT INTO events (id, organisation_id, name, starts_at, ends_at, timezone, code_key) VALUES ($1, $2, 'E', now() - interval '1 day', now() + interval '1 day', 'UTC', $3)`,
          [id, org, randomBytes(32)],
        );
      }
      const tokens = {
        phone: `edt_${randomBytes(32).toString('base64url')}`,
        registered: `edt_${randomBytes(32).toString('base64url')}`,
      };
      const [{ id: phonePk }] = (await old.db.query<{ id: string }>(
        `INSERT INTO devices (organisation_id, device_id, name, token_hash) VALUES ($1, 'phone', 'Phone', $2) RETURNING id`,
        [org, hashToken(tokens.phone)],
      )) as [{ id: string }];
      await old.db.query(
        `INSERT INTO devices (organisation_id, device_id, name, token_hash) VALUES ($1, 'registered', 'Registered', $2)`,
        [org, hashToken(tokens.registered)],
      );
      await old.db.query(
        `INSERT INTO pairing_codes (event_id, organisation_id, code_hash, expires_at, used_at, device_id) VALUES ($1, $2, $3, now() + interval '1 hour', now(), 'phone')`,
        [paired, org, randomBytes(32).toString('hex')],
      );
      await old.db.query(`INSERT INTO device_logs (event_id, device_pk) VALUES ($1, $2)`, [used, phonePk]);

      const upgraded = await startTestServer(old.db);
      try {
        const manifest = (token: string, deviceId: string, eventId: string): Promise<number> =>
          upgraded
            .client(token)
            .get(`/api/v1/offline/manifest/${eventId}?device_id=${deviceId}`)
            .then((r) => r.status);
        expect([
          await manifest(tokens.phone, 'phone', paired),
          await manifest(tokens.phone, 'phone', used),
          await manifest(tokens.phone, 'phone', unused),
        ]).toEqual([200, 200, 403]);
        expect([
          await manifest(tokens.registered, 'registered', paired),
          await manifest(tokens.registered, 'registered', unused),
        ]).toEqual([200, 200]);
      } finally {
        await upgraded.close();
      }
    } finally {
      await old.drop();
    }
  });
});
