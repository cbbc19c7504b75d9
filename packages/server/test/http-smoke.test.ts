/**
 * Every route family once over a real socket. Most suites talk to the server
 * through Fastify's `inject` (see the rule in harness.ts); this one keeps an
 * end-to-end path through Node's HTTP server for each family: set-up, tickets
 * and their imports, devices and pairing, staff, online scanning, offline sync,
 * the scan log and conflicts, fleet health, tokens, webhooks and accounts.
 * (The live stream, seed clients, body limits and framework errors have their
 * own suites over HTTP.)
 */
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
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

describeEachBackend('every route family over HTTP', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let admin: Client;
  let ev: SeededEvent;
  /** Requests Node's HTTP server received: inject never reaches it, so this proves the socket was used. */
  const overSocket: string[] = [];

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db, { http: true });
    server.app.server.on('request', (req: IncomingMessage) =>
      overSocket.push(`${req.method} ${req.url?.split('?')[0]}`),
    );
    admin = server.admin;
    ev = await seedEvent(admin);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  it('set-up: events, zones, gates and ticket types, read back and changed', async () => {
    expect(overSocket).toEqual(
      expect.arrayContaining([
        'POST /api/v1/events',
        `POST /api/v1/events/${ev.eventId}/zones`,
        `POST /api/v1/events/${ev.eventId}/gates`,
      ]),
    );
    expect((await server.client(null).get('/api/health')).body).toMatchObject({ status: 'ok' });
    const shown = await admin.get(`/api/v1/events/${ev.eventId}`);
    expect(shown.status).toBe(200);
    expect(shown.body.id).toBe(ev.eventId);
    const renamed = await admin.request('PATCH', `/api/v1/events/${ev.eventId}`, { name: 'Smoke Event' });
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    expect((await admin.get('/api/v1/events')).status).toBe(200);
  });

  it('tickets: issued, read, blocked; imported in a session', async () => {
    const [t] = await issueTickets(admin, ev.eventId, [{ ticket_type_id: ev.types.ga, holder_name: 'Ada Lovelace' }]);
    expect((await admin.get(`/api/v1/tickets/${t!.id}`)).body).toMatchObject({ id: t!.id, status: 'valid' });
    expect((await admin.post(`/api/v1/tickets/${t!.id}/block`, { reason: 'smoke' })).status).toBe(200);
    const session = await admin.post(`/api/v1/events/${ev.eventId}/ticket-imports`, { total_rows: 2 });
    expect(session.status, JSON.stringify(session.body)).toBe(201);
    const base = `/api/v1/events/${ev.eventId}/ticket-imports/${session.body.id}`;
    const rows = await admin.post(`${base}/rows`, {
      start_row: 1,
      tickets: [
        { ticket_type_id: ev.types.ga, number: 'SMOKE-1' },
        { ticket_type_id: ev.types.ga, number: 'SMOKE-2' },
      ],
    });
    expect(rows.status, JSON.stringify(rows.body)).toBe(200);
    expect((await admin.post(`${base}/commit`)).body.imported).toBe(2);
  });

  it('devices, pairing and staff login', async () => {
    const made = await admin.post('/api/v1/devices/pairing-codes', { event_id: ev.eventId });
    expect(made.status).toBe(201);
    const { publicKey } = TestDevice.keyPair(7);
    const paired = await server
      .client(null)
      .post('/api/v1/devices/pair', { code: made.body.code, public_key: Buffer.from(publicKey).toString('base64url') });
    expect(paired.status, JSON.stringify(paired.body)).toBe(201);
    expect((await admin.get('/api/v1/devices')).status).toBe(200);
    expect(
      (
        await admin.post(`/api/v1/events/${ev.eventId}/staff`, {
          username: 'smoke',
          name: 'Smoke',
          pin: '739184620571',
        })
      ).status,
    ).toBe(201);
    const login = await server
      .client(paired.body.token)
      .post(`/api/v1/events/${ev.eventId}/login`, { username: 'smoke', pin: '739184620571' });
    expect(login.status, JSON.stringify(login.body)).toBe(200);
  });

  it('online scanning, offline sync and the manifest, the scan log, conflicts and fleet health', async () => {
    const d = await registerDevice(admin, 'Smoke scanner');
    const device = server.client(d.token);
    const [online, offline] = await issueTickets(admin, ev.eventId, [
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
    ]);
    const scanned = await device.post('/api/v1/scanning/scan', {
      code: online!.code,
      event_id: ev.eventId,
      gate_id: ev.gates.main,
    });
    expect(scanned.body).toMatchObject({ result: 'valid' });

    const upload = new TestDevice(device, d.deviceId, ev.eventId);
    upload.scan({ code: offline!.code, at: server.now() - 60_000, gateId: ev.gates.main });
    upload.scan({ code: online!.code, at: server.now() - 30_000, gateId: ev.gates.main });
    const synced = await upload.upload();
    expect(synced.status, JSON.stringify(synced.body)).toBe(200);
    expect(synced.body.acked_through).toBe(2);
    const manifest = await device.get(`/api/v1/offline/manifest/${ev.eventId}?device_id=${d.deviceId}`);
    expect(manifest.status).toBe(200);
    expect((await device.get(`/api/v1/offline/sync/status/${ev.eventId}/${d.deviceId}`)).status).toBe(200);

    const log = await admin.get(`/api/v1/events/${ev.eventId}/scans`);
    expect(log.status).toBe(200);
    expect(log.body.scans.length).toBeGreaterThanOrEqual(3);
    expect((await admin.get(`/api/v1/events/${ev.eventId}/conflicts`)).body.conflicts).toHaveLength(1);

    const beat = await device.post('/api/v1/devices/heartbeat', {
      event_id: ev.eventId,
      device_time: server.now(),
      app_version: 'smoke',
      pending_scans: 0,
    });
    expect(beat.status, JSON.stringify(beat.body)).toBeLessThan(300);
    expect((await admin.get(`/api/v1/events/${ev.eventId}/devices/health`)).status).toBe(200);
    expect((await admin.get(`/api/v1/events/${ev.eventId}/alerts`)).status).toBe(200);
  });

  it('tokens, webhooks and accounts', async () => {
    expect((await admin.get('/api/v1/tokens')).status).toBe(200);
    expect((await admin.get('/api/v1/webhooks')).status).toBe(200);
    const user = await admin.post('/api/v1/users', {
      email: 'smoke@example.com',
      name: 'Smoke',
      role: 'viewer',
      password: 'a-long-passphrase-for-tests',
    });
    expect(user.status, JSON.stringify(user.body)).toBe(201);
    const login = await server
      .client(null)
      .post('/api/v1/auth/login', { email: 'smoke@example.com', password: 'a-long-passphrase-for-tests' });
    expect(login.status).toBe(200);
    const me = await server
      .client(null)
      .request('GET', '/api/v1/auth/me', undefined, { cookie: login.headers.get('set-cookie')!.split(';')[0]! });
    expect(me.body.user).toMatchObject({ email: 'smoke@example.com' });
  });

  it('went through the socket every time', () => {
    expect(overSocket.length).toBeGreaterThan(40);
    expect(overSocket).toEqual(
      expect.arrayContaining(['POST /api/v1/scanning/scan', 'POST /api/v1/offline/sync', 'POST /api/v1/auth/login']),
    );
  });
});
