import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../src/server.ts';
import { NotificationWorker } from '../src/services/notification-worker.ts';
import { dueWebhookDeliveries, enqueueWebhookDeliveries, leaseWebhookDeliveries } from '../src/store/notifications.ts';
import {
  Client,
  describeEachBackend,
  describePostgres,
  issueTickets,
  registerDevice,
  seedEvent,
  startTestServer,
  type TestDatabase,
  type TestServer,
  postgresBackend,
} from './harness.ts';
import { TestDevice } from './offline-helpers.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const PASSWORD = 'correct horse battery staple';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  path: string;
}

/** A real HTTP receiver: records every request and answers the next queued status (200 when none is queued). */
async function startReceiver(): Promise<{
  url: string;
  received: Received[];
  answers: number[];
  fallback: { status: number };
  close(): Promise<void>;
}> {
  const received: Received[] = [];
  const answers: number[] = [];
  const fallback = { status: 200 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      received.push({ headers: req.headers, body, path: req.url ?? '' });
      res.statusCode = answers.shift() ?? fallback.status;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    answers,
    fallback,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A real SMTP server (smtp-server): records every message. */
async function startSmtp(): Promise<{
  url: string;
  mails: Array<{ to: string[]; raw: string }>;
  reject: { on: boolean };
  close(): Promise<void>;
}> {
  const mails: Array<{ to: string[]; raw: string }> = [];
  const reject = { on: false };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => {
        raw += c;
      });
      stream.on('end', () => {
        // A temporary failure (mailbox busy): the sender is to try again later.
        if (reject.on) return callback(Object.assign(new Error('try again later'), { responseCode: 451 }));
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw });
        callback();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.server.address() as AddressInfo;
  return { url: `smtp://127.0.0.1:${port}`, mails, reject, close: () => new Promise((r) => server.close(() => r())) };
}

/** The Standard Webhooks check, written from the specification (not with the server's code). */
function verify(secret: string, r: Received, nowS: number): boolean {
  const id = String(r.headers['webhook-id']);
  const ts = Number(r.headers['webhook-timestamp']);
  if (!Number.isInteger(ts) || Math.abs(nowS - ts) > 300) return false;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${r.body}`).digest();
  return String(r.headers['webhook-signature'])
    .split(' ')
    .some((sig) => {
      const [version, value] = sig.split(',');
      const given = Buffer.from(value ?? '', 'base64');
      return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
    });
}

describeEachBackend('webhooks and email', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let clock = Date.now() + 10 * MIN;

  beforeAll(async () => {
    tdb = await backend.open();
    receiver = await startReceiver();
    smtp = await startSmtp();
    // The timers are off: each test runs the worker's passes itself, on the injected clock.
    server = await startTestServer(tdb.db, {
      now: () => clock,
      config: { alertIntervalMs: 0, notifyIntervalMs: 0, smtpUrl: smtp.url },
    });
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
    await smtp?.close();
    await tdb?.drop();
  });

  const token = async (role: string): Promise<Client> =>
    server.client((await server.admin.post('/api/v1/tokens', { name: `${role} token`, role })).body.token);
  const run = () => server.services.notificationWorker.runOnce();

  it('creates a webhook with a secret shown once; validates the URL; lists, deletes; managers and owners only', async () => {
    const made = await server.admin.post('/api/v1/webhooks', { url: receiver.url, events: ['alert.raised'] });
    expect(made.status).toBe(201);
    expect(made.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(made.body).toMatchObject({ url: receiver.url, events: ['alert.raised'], event_id: null });
    const listed = await server.admin.get('/api/v1/webhooks');
    expect(listed.body.webhooks.find((w: { id: string }) => w.id === made.body.id)).toEqual({
      ...made.body,
      secret: undefined,
    });
    expect(JSON.stringify(listed.body)).not.toContain(made.body.secret);

    for (const [url, field] of [
      ['ftp://example.com/x', 'http'],
      ['https://user:pw@example.com/x', 'credentials'],
      ['not a url', 'absolute'],
    ] as const) {
      const r = await server.admin.post('/api/v1/webhooks', { url, events: ['alert.raised'] });
      expect(r.status, url).toBe(400);
      expect(r.body).toMatchObject({ error: 'INVALID_BODY', message: expect.stringContaining(field) });
    }
    expect((await server.admin.post('/api/v1/webhooks', { url: receiver.url, events: ['scan.admitted'] })).status).toBe(
      400,
    );
    expect((await server.admin.post('/api/v1/webhooks', { url: receiver.url, events: [] })).status).toBe(400);

    const manager = await token('manager');
    const supervisor = await token('supervisor');
    const viewer = await token('viewer');
    expect((await manager.post('/api/v1/webhooks', { url: receiver.url, events: ['device.revoked'] })).status).toBe(
      201,
    );
    for (const c of [supervisor, viewer]) {
      expect((await c.post('/api/v1/webhooks', { url: receiver.url, events: ['device.revoked'] })).status).toBe(403);
      expect((await c.get('/api/v1/webhooks')).status).toBe(403);
      expect((await c.request('DELETE', `/api/v1/webhooks/${made.body.id}`)).status).toBe(403);
      expect((await c.get(`/api/v1/webhooks/${made.body.id}/deliveries`)).status).toBe(403);
    }
    // Another organisation sees none of it.
    const org = await server.admin.post('/api/v1/organisations', { name: `Other ${Math.random()}` });
    const other = server.client(org.body.admin_token);
    expect((await other.get('/api/v1/webhooks')).body.webhooks).toEqual([]);
    expect((await other.request('DELETE', `/api/v1/webhooks/${made.body.id}`)).status).toBe(404);
    expect((await other.get(`/api/v1/webhooks/${made.body.id}/deliveries`)).status).toBe(404);
    const ev = await seedEvent(server.admin);
    expect(
      (await other.post('/api/v1/webhooks', { url: receiver.url, events: ['alert.raised'], event_id: ev.eventId }))
        .status,
    ).toBe(404);

    expect((await manager.request('DELETE', `/api/v1/webhooks/${made.body.id}`)).status).toBe(204);
    expect((await server.admin.get('/api/v1/webhooks')).body.webhooks.map((w: { id: string }) => w.id)).not.toContain(
      made.body.id,
    );
    // Cleanup: no other test's notifications go to these.
    for (const w of (await server.admin.get('/api/v1/webhooks')).body.webhooks)
      await server.admin.request('DELETE', `/api/v1/webhooks/${w.id}`);
  });

  it("delivers signed, retries after a 500 with the same id, logs each attempt, and other organisations' events never reach it", async () => {
    const made = await server.admin.post('/api/v1/webhooks', {
      url: receiver.url,
      events: ['device.suspended', 'device.revoked'],
    });
    const secret = made.body.secret as string;
    const { deviceId } = await registerDevice(server.admin, 'Gate scanner');
    // Another organisation's device changes: nothing queued for this webhook.
    const org = await server.admin.post('/api/v1/organisations', { name: `Other ${Math.random()}` });
    const other = server.client(org.body.admin_token);
    const theirs = await registerDevice(other, 'Theirs');
    expect((await other.post(`/api/v1/devices/${theirs.deviceId}/suspend`, { reason: 'lost' })).status).toBe(200);

    receiver.received.length = 0;
    receiver.answers.push(500);
    expect((await server.admin.post(`/api/v1/devices/${deviceId}/suspend`, { reason: 'battery swap' })).status).toBe(
      200,
    );
    expect(await run()).toMatchObject({ webhooks: 1 });
    expect(receiver.received).toHaveLength(1);
    // Nothing is due before its backoff (at most 5 s after the first failure).
    expect(await run()).toMatchObject({ webhooks: 0 });
    clock += 5_001;
    expect(await run()).toMatchObject({ webhooks: 1 });
    expect(receiver.received).toHaveLength(2);
    const [first, second] = receiver.received as [Received, Received];
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(verify(secret, second, Math.floor(clock / 1000))).toBe(true);
    // Control: the check fails with another secret and with a changed body.
    expect(verify(`whsec_${Buffer.alloc(32, 1).toString('base64')}`, second, Math.floor(clock / 1000))).toBe(false);
    expect(
      verify(
        secret,
        { ...second, body: second.body.replace('battery swap', 'battery swop') },
        Math.floor(clock / 1000),
      ),
    ).toBe(false);
    const body = JSON.parse(second.body);
    expect(body).toMatchObject({
      type: 'device.suspended',
      data: { device_id: deviceId, name: 'Gate scanner', status: 'suspended', reason: 'battery swap' },
    });
    expect(second.headers['content-type']).toBe('application/json');

    const log = await server.admin.get(`/api/v1/webhooks/${made.body.id}/deliveries`);
    expect(log.status).toBe(200);
    expect(log.body.deliveries).toHaveLength(1);
    expect(log.body.deliveries[0]).toMatchObject({
      id: first.headers['webhook-id'],
      type: 'device.suspended',
      state: 'delivered',
      attempts: 2,
      last_status: 200,
      last_error: null,
      log: [
        { attempt: 1, status: 500, error: 'HTTP 500' },
        { attempt: 2, status: 200, error: null },
      ],
    });
    expect(log.body.deliveries[0].log[0].duration_ms).toBeGreaterThanOrEqual(0);
    // The secret is stored sealed, not in clear.
    const stored = await tdb.db.query<{ secret_sealed: Uint8Array }>(
      'SELECT secret_sealed FROM webhooks WHERE id = $1',
      [made.body.id],
    );
    expect(Buffer.from(stored[0]!.secret_sealed).toString('latin1')).not.toContain(secret.slice(6, 20));
    expect(`whsec_${server.services.webhooks.signingKey(stored[0]!.secret_sealed).toString('base64')}`).toBe(secret);

    // Revoked: one more; pages of one follow the cursor, newest first.
    expect((await server.admin.post(`/api/v1/devices/${deviceId}/revoke`, { reason: 'stolen' })).status).toBe(200);
    await run();
    const page1 = await server.admin.get(`/api/v1/webhooks/${made.body.id}/deliveries?limit=1`);
    expect(page1.body.deliveries.map((d: { type: string }) => d.type)).toEqual(['device.revoked']);
    const page2 = await server.admin.get(
      `/api/v1/webhooks/${made.body.id}/deliveries?limit=1&cursor=${page1.body.next_cursor}`,
    );
    expect(page2.body.deliveries.map((d: { type: string }) => d.type)).toEqual(['device.suspended']);
    expect(page2.body.next_cursor).toBeNull();
    expect((await server.admin.get(`/api/v1/webhooks/${made.body.id}/deliveries?cursor=bogus`)).status).toBe(400);
    // A test message on request, signed alike.
    receiver.received.length = 0;
    expect((await server.admin.post(`/api/v1/webhooks/${made.body.id}/test`)).status).toBe(202);
    await run();
    expect(receiver.received.map((r) => JSON.parse(r.body))).toMatchObject([
      { type: 'webhook.test', data: { webhook_id: made.body.id } },
    ]);
    expect(verify(secret, receiver.received[0]!, Math.floor(clock / 1000))).toBe(true);
    await server.admin.request('DELETE', `/api/v1/webhooks/${made.body.id}`);
  });

  it('gives up after 24 h of failures and marks the delivery failed', async () => {
    const made = await server.admin.post('/api/v1/webhooks', { url: receiver.url, events: ['device.suspended'] });
    const { deviceId } = await registerDevice(server.admin, 'Flaky');
    await server.admin.post(`/api/v1/devices/${deviceId}/suspend`, { reason: 'x' });
    const start = clock;
    let attempts = 0;
    // The receiver always fails; the backoff's ceiling doubles up to an hour.
    receiver.fallback.status = 503;
    try {
      while (clock < start + 25 * HOUR) {
        attempts += (await run()).webhooks;
        clock += 30 * MIN;
      }
    } finally {
      receiver.fallback.status = 200;
    }
    const [d] = (await server.admin.get(`/api/v1/webhooks/${made.body.id}/deliveries`)).body.deliveries;
    expect(d).toMatchObject({ state: 'failed', last_status: 503, next_attempt_at: null });
    expect(d.attempts).toBe(attempts);
    expect(attempts).toBeGreaterThan(10);
    await server.admin.request('DELETE', `/api/v1/webhooks/${made.body.id}`);
  });

  it('refuses receivers on private addresses unless the operator allows them (server-side request forgery)', async () => {
    // A server as deployed: private receivers not allowed. Same database, so it sees this suite's webhooks.
    const strict = await startTestServer(tdb.db, {
      adminToken: server.adminToken,
      now: () => clock,
      config: { alertIntervalMs: 0, notifyIntervalMs: 0, webhookAllowPrivate: false },
    });
    try {
      for (const url of [
        receiver.url,
        'http://169.254.169.254/latest/meta-data/',
        'http://10.1.2.3/hook',
        'http://192.168.0.10:8080/',
        'http://[::1]:9/hook',
        'http://[::ffff:127.0.0.1]/hook',
        'http://[fd00::5]/',
        'http://localhost:5432/',
        'http://LOCALHOST./x',
        'http://db.localhost/',
        'http://0.0.0.0:6379/',
      ]) {
        const r = await strict.admin.post('/api/v1/webhooks', { url, events: ['alert.raised'] });
        expect(r.status, url).toBe(400);
        expect(r.body, url).toMatchObject({
          error: 'INVALID_BODY',
          message: expect.stringContaining('ENTRADA_WEBHOOK_ALLOW_PRIVATE=1'),
        });
      }
      // A public name is accepted when saved; what it resolves to is checked at each delivery.
      const pub = await strict.admin.post('/api/v1/webhooks', {
        url: 'https://hooks.example.com/entrada',
        events: ['alert.raised'],
      });
      expect(pub.status).toBe(201);
      await strict.admin.request('DELETE', `/api/v1/webhooks/${pub.body.id}`);

      // Deliveries: a receiver saved while private ones were allowed (here: by this suite's server), one reached by a
      // literal address and one by a name that resolves to loopback (the hosts file's name of this machine, `vm` or
      // whatever it is, stands for a DNS name rebound to a private address).
      const { port } = new URL(receiver.url);
      const urls = [receiver.url, `http://${os.hostname()}:${port}/by-name`];
      const hooks = await Promise.all(
        urls.map(
          async (url) =>
            (await server.admin.post('/api/v1/webhooks', { url, events: ['device.suspended'] })).body.id as string,
        ),
      );
      const { deviceId } = await registerDevice(server.admin, 'Rebound');
      expect((await server.admin.post(`/api/v1/devices/${deviceId}/suspend`, { reason: 'x' })).status).toBe(200);
      receiver.received.length = 0;
      const worker = (allowPrivate: boolean) =>
        new NotificationWorker(
          tdb.db,
          (s) => server.services.webhooks.signingKey(s),
          null,
          () => clock,
          pino({ level: 'silent' }),
          { allowPrivate },
        );
      await worker(false).runOnce();
      expect(receiver.received).toEqual([]);
      for (const id of hooks) {
        const [d] = (await server.admin.get(`/api/v1/webhooks/${id}/deliveries`)).body.deliveries;
        expect(d).toMatchObject({
          state: 'pending',
          attempts: 1,
          last_status: null,
          last_error: 'refused: the receiver resolves to a private, loopback or link-local address',
        });
      }
      // Control: the same deliveries, with private receivers allowed, arrive (the guard, not the network, held them).
      clock += 2 * HOUR;
      await worker(true).runOnce();
      expect(receiver.received.map((r) => r.path).sort()).toEqual(['/by-name', '/hook']);
      for (const id of hooks) await server.admin.request('DELETE', `/api/v1/webhooks/${id}`);
    } finally {
      await strict.close();
    }
  });

  it('a slow receiver times out without holding anything up, and is retried', async () => {
    const slow = http.createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/`;
    const worker = new NotificationWorker(
      tdb.db,
      (s) => server.services.webhooks.signingKey(s),
      null,
      () => clock,
      pino({ level: 'silent' }),
      { timeoutMs: 200, allowPrivate: true },
    );
    const made = await server.admin.post('/api/v1/webhooks', { url, events: ['device.suspended'] });
    const { deviceId } = await registerDevice(server.admin, 'Slowpoke');
    const t0 = Date.now();
    expect((await server.admin.post(`/api/v1/devices/${deviceId}/suspend`, { reason: 'x' })).status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(2000);
    await worker.runOnce();
    const [d] = (await server.admin.get(`/api/v1/webhooks/${made.body.id}/deliveries`)).body.deliveries;
    expect(d).toMatchObject({ state: 'pending', attempts: 1, last_error: 'timed out after 200 ms' });
    slow.closeAllConnections();
    slow.close();
    await server.admin.request('DELETE', `/api/v1/webhooks/${made.body.id}`);
  });

  it('alerts and conflicts reach event webhooks; critical alerts and conflicts open for 24 h are mailed', async () => {
    const ev = await seedEvent(server.admin, {
      starts_at: new Date(clock - HOUR).toISOString(),
      ends_at: new Date(clock + 300 * HOUR).toISOString(),
    });
    const elsewhere = await seedEvent(server.admin, {
      starts_at: new Date(clock - HOUR).toISOString(),
      ends_at: new Date(clock + 300 * HOUR).toISOString(),
    });
    const made = await server.admin.post('/api/v1/webhooks', {
      url: receiver.url,
      events: ['alert.raised', 'alert.cleared', 'conflict.opened', 'conflict.resolved'],
      event_id: ev.eventId,
    });
    expect(made.status).toBe(201);
    // People: a viewer subscribed to critical alerts, a manager (gets the conflict mail), an owner not subscribed.
    const email = `v${Math.random().toString(36).slice(2, 8)}@example.com`;
    const managerEmail = `m${Math.random().toString(36).slice(2, 8)}@example.com`;
    expect(
      (await server.admin.post('/api/v1/users', { email, name: 'Vic', role: 'viewer', password: PASSWORD })).status,
    ).toBe(201);
    expect(
      (
        await server.admin.post('/api/v1/users', {
          email: managerEmail,
          name: 'Max',
          role: 'manager',
          password: PASSWORD,
        })
      ).status,
    ).toBe(201);
    const login = await new Client(server.url, null).request('POST', '/api/v1/auth/login', {
      email,
      password: PASSWORD,
    });
    const session = {
      cookie: login.headers.get('set-cookie')!.split(';')[0]!,
      'x-csrf-token': login.body.csrf_token as string,
    };
    const me = new Client(server.url, null);
    expect((await me.request('GET', '/api/v1/users/me/alert-email', undefined, session)).body).toEqual({
      critical_alerts: false,
      email_enabled: true,
      email,
    });
    const put = await me.request('PUT', '/api/v1/users/me/alert-email', { critical_alerts: true }, session);
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ critical_alerts: true, email_enabled: true, email });
    // An admin token is no person.
    expect((await server.admin.put('/api/v1/users/me/alert-email', { critical_alerts: true })).status).toBe(403);

    // A critical alert: a queue of more than 500 pending scans.
    const d = await registerDevice(server.admin, 'Busy', { event_ids: [ev.eventId, elsewhere.eventId] });
    const device = server.client(d.token);
    receiver.received.length = 0;
    smtp.mails.length = 0;
    for (const eventId of [ev.eventId, elsewhere.eventId]) {
      expect(
        (
          await device.post('/api/v1/devices/heartbeat', {
            event_id: eventId,
            device_time: clock,
            app_version: 'web 1',
            pending_scans: 600,
          })
        ).status,
      ).toBe(200);
      expect(await server.services.alerts.evaluate(eventId)).toBe(true);
    }
    await run();
    // Only this event's alert reaches the event's webhook.
    expect(receiver.received.map((r) => JSON.parse(r.body))).toMatchObject([
      { type: 'alert.raised', data: { event_id: ev.eventId, alert: { rule: 'pending_queue', severity: 'critical' } } },
    ]);
    expect(verify(made.body.secret, receiver.received[0]!, Math.floor(clock / 1000))).toBe(true);
    // Both events' critical alerts are mailed to the subscribed viewer, and only to them.
    expect(smtp.mails.map((m) => m.to)).toEqual([[email], [email]]);
    expect(smtp.mails[0]!.raw).toContain('Subject: Entrada critical alert: pending queue');

    // A conflict: two offline devices admit one ticket.
    const second = await registerDevice(server.admin, 'Second', { event_ids: [ev.eventId] });
    const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    const a = new TestDevice(device, d.deviceId, ev.eventId);
    const b = new TestDevice(server.client(second.token), second.deviceId, ev.eventId);
    a.scan({ code: t!.code, at: clock - 2 * MIN, gateId: ev.gates.main });
    b.scan({ code: t!.code, at: clock - MIN, gateId: ev.gates.main });
    expect((await a.client.post('/api/v1/offline/sync', { ...a.body(1, 1), device_time: clock })).status).toBe(200);
    expect((await b.client.post('/api/v1/offline/sync', { ...b.body(1, 1), device_time: clock })).status).toBe(200);
    receiver.received.length = 0;
    smtp.mails.length = 0;
    // Queued in the sync's own transaction: there by the time the device has its answer.
    await run();
    const opened = receiver.received.map((r) => JSON.parse(r.body));
    expect(opened).toMatchObject([
      { type: 'conflict.opened', data: { event_id: ev.eventId, conflict_id: expect.any(String) } },
    ]);
    expect(smtp.mails).toEqual([]);

    // 23 h later: no mail yet. Past 24 h: once, to the managers and owners, not to the viewer.
    clock += 23 * HOUR;
    await run();
    expect(smtp.mails).toEqual([]);
    clock += 2 * HOUR;
    await run();
    const users = (await server.admin.get('/api/v1/users')).body.users as Array<{
      email: string;
      role: string;
      active: boolean;
    }>;
    const managers = users
      .filter((u) => (u.role === 'manager' || u.role === 'owner') && u.active)
      .map((u) => u.email.toLowerCase())
      .sort();
    expect(managers).toContain(managerEmail);
    expect(smtp.mails.flatMap((m) => m.to).sort()).toEqual(managers);
    expect(smtp.mails[0]!.raw).toContain('1 conflict open for over 24 hours');
    await run();
    clock += HOUR;
    await run();
    expect(smtp.mails.flatMap((m) => m.to).sort()).toEqual(managers);

    // Resolved: the webhook hears it.
    receiver.received.length = 0;
    expect(
      (
        await server.admin.post(`/api/v1/conflicts/${opened[0].data.conflict_id}/resolve`, {
          resolution: 'fraud',
          note: 'checked',
        })
      ).status,
    ).toBe(200);
    await run();
    expect(receiver.received.map((r) => JSON.parse(r.body))).toMatchObject([
      { type: 'conflict.resolved', data: { conflict_id: opened[0].data.conflict_id, resolution: 'fraud' } },
    ]);
    await server.admin.request('DELETE', `/api/v1/webhooks/${made.body.id}`);
  });

  it('a queued delivery survives a restart (the outbox is in the database) and is delivered by the next server', async () => {
    const made = await server.admin.post('/api/v1/webhooks', { url: receiver.url, events: ['device.suspended'] });
    const { deviceId } = await registerDevice(server.admin, 'Restart');
    receiver.received.length = 0;
    expect((await server.admin.post(`/api/v1/devices/${deviceId}/suspend`, { reason: 'restart' })).status).toBe(200);
    const adminToken = server.adminToken;
    await server.close();
    expect(receiver.received).toEqual([]);
    server = await startTestServer(tdb.db, {
      adminToken,
      now: () => clock,
      config: { alertIntervalMs: 0, notifyIntervalMs: 0, smtpUrl: smtp.url },
    });
    await run();
    expect(receiver.received.map((r) => JSON.parse(r.body))).toMatchObject([
      { type: 'device.suspended', data: { device_id: deviceId } },
    ]);
    await server.admin.request('DELETE', `/api/v1/webhooks/${made.body.id}`);
  });

  it('a delivery leased by a worker that died mid-attempt is delivered by the next server once the lease expires, once', async () => {
    const made = await server.admin.post('/api/v1/webhooks', { url: receiver.url, events: ['device.suspended'] });
    const { deviceId } = await registerDevice(server.admin, 'Died mid-attempt');
    receiver.received.length = 0;
    expect((await server.admin.post(`/api/v1/devices/${deviceId}/suspend`, { reason: 'crash' })).status).toBe(200);
    // A worker claims it (the lease written, the attempt counted) and the process dies before calling the receiver.
    const leased = await tdb.db.transaction(async (tx) =>
      leaseWebhookDeliveries(tx, await dueWebhookDeliveries(tx, clock, 100), clock + 40_000),
    );
    expect(leased.map((d) => d.type)).toEqual(['device.suspended']);
    const adminToken = server.adminToken;
    await server.close();
    server = await startTestServer(tdb.db, {
      adminToken,
      now: () => clock,
      config: { alertIntervalMs: 0, notifyIntervalMs: 0, smtpUrl: smtp.url },
    });
    // Within the lease nobody else takes it (the dead worker might still have been calling the receiver).
    await run();
    expect(receiver.received).toEqual([]);
    clock += 41_000;
    await run();
    await run();
    expect(receiver.received.map((r) => JSON.parse(r.body))).toMatchObject([
      { type: 'device.suspended', data: { device_id: deviceId } },
    ]);
    const [row] = await tdb.db.query<{ state: string; attempts: number }>(
      `SELECT state, attempts FROM webhook_deliveries WHERE webhook_id = $1`,
      [made.body.id],
    );
    expect(row).toEqual({ state: 'delivered', attempts: 2 });
    await server.admin.request('DELETE', `/api/v1/webhooks/${made.body.id}`);
  });

  it('retries mail the SMTP server refused for now', async () => {
    const email = `r${Math.random().toString(36).slice(2, 8)}@example.com`;
    expect(
      (await server.admin.post('/api/v1/users', { email, name: 'Rita', role: 'supervisor', password: PASSWORD }))
        .status,
    ).toBe(201);
    const login = await new Client(server.url, null).request('POST', '/api/v1/auth/login', {
      email,
      password: PASSWORD,
    });
    const session = {
      cookie: login.headers.get('set-cookie')!.split(';')[0]!,
      'x-csrf-token': login.body.csrf_token as string,
    };
    expect(
      (
        await new Client(server.url, null).request(
          'PUT',
          '/api/v1/users/me/alert-email',
          { critical_alerts: true },
          session,
        )
      ).status,
    ).toBe(200);
    const organisationId = login.body.user.organisation_id as string;
    smtp.mails.length = 0;
    smtp.reject.on = true;
    try {
      await server.services.notifier.notify(tdb.db, [
        {
          type: 'alert.raised',
          organisationId,
          eventId: null,
          occurredAt: clock,
          data: {
            event_name: 'Retry Fest',
            alert: {
              rule: 'zone_over_capacity',
              severity: 'critical',
              subject: { kind: 'zone', name: 'Pit' },
              detail: { inside: 101, capacity: 100 },
            },
          },
        },
      ]);
      expect((await run()).mail).toBeGreaterThan(0);
      expect(smtp.mails).toEqual([]);
      const [queued] = await tdb.db.query<{ state: string; attempts: number; last_error: string }>(
        'SELECT state, attempts, last_error FROM email_outbox WHERE to_address = $1',
        [email],
      );
      expect(queued).toEqual({ state: 'pending', attempts: 1, last_error: 'SMTP 451' });
    } finally {
      smtp.reject.on = false;
    }
    clock += 6_000;
    await run();
    expect(smtp.mails.filter((m) => m.to.includes(email))).toHaveLength(1);
    expect(smtp.mails.find((m) => m.to.includes(email))!.raw).toContain(
      'Subject: Entrada critical alert: zone over capacity',
    );
    const [sent] = await tdb.db.query<{ state: string; attempts: number }>(
      'SELECT state, attempts FROM email_outbox WHERE to_address = $1',
      [email],
    );
    expect(sent).toEqual({ state: 'sent', attempts: 2 });
  });

  it("logs neither the secret nor the receiver's URL (its query may be a credential), even when deliveries fail", async () => {
    const lines: string[] = [];
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => lines.push(chunk.toString('utf8')));
    const logged = await startTestServer(tdb.db, {
      now: () => clock,
      logger: createLogger('debug', sink),
      config: { alertIntervalMs: 0, notifyIntervalMs: 0 },
    });
    try {
      const url = `${receiver.url}?token=receiver-credential-123`;
      const made = await logged.admin.post('/api/v1/webhooks', { url, events: ['device.suspended'] });
      expect(made.status).toBe(201);
      const { deviceId } = await registerDevice(logged.admin, 'Logged');
      receiver.fallback.status = 500;
      try {
        await logged.admin.post(`/api/v1/devices/${deviceId}/suspend`, { reason: 'x' });
        // Retries until the 24 h are over: the warning about failed deliveries is logged.
        for (let i = 0; i < 40; i++) {
          await logged.services.notificationWorker.runOnce();
          clock += HOUR;
        }
      } finally {
        receiver.fallback.status = 200;
      }
      const log = lines.join('');
      expect(log).toContain('webhook deliveries failed for good');
      expect(log).not.toContain(made.body.secret);
      expect(log).not.toContain(made.body.secret.slice(6, 30));
      expect(log).not.toContain('receiver-credential-123');
      await logged.admin.request('DELETE', `/api/v1/webhooks/${made.body.id}`);
    } finally {
      await logged.close();
    }
  });
});

/**
 * Two workers claim at the same moment (both have read the due rows before either leases them). Without
 * FOR UPDATE SKIP LOCKED both take the same rows and the receiver gets every message twice; with it, the second
 * worker skips the rows the first holds. PostgreSQL only: PGlite has one connection, so it cannot race.
 */
describePostgres('webhook claims across workers', () => {
  let tdb: TestDatabase;
  let server: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    tdb = await postgresBackend.open();
    receiver = await startReceiver();
    server = await startTestServer(tdb.db, { config: { alertIntervalMs: 0, notifyIntervalMs: 0 } });
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
    await tdb?.drop();
  });

  async function race(unsafeNoSkipLocked: boolean): Promise<{ received: number; distinct: number }> {
    const made = await server.admin.post('/api/v1/webhooks', { url: receiver.url, events: ['device.suspended'] });
    const org = (
      await tdb.db.query<{ organisation_id: string }>('SELECT organisation_id FROM webhooks WHERE id = $1', [
        made.body.id,
      ])
    )[0]!.organisation_id;
    await enqueueWebhookDeliveries(
      tdb.db,
      Array.from({ length: 10 }, (_, i) => ({
        type: 'device.suspended',
        organisationId: org,
        eventId: null,
        body: JSON.stringify({ i }),
        createdAt: Date.now(),
      })),
      Date.now(),
    );
    receiver.received.length = 0;
    // A barrier: each worker waits in its claim transaction until both have read.
    let arrived = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((r) => {
      release = r;
    });
    const afterClaimRead = async (): Promise<void> => {
      arrived += 1;
      if (arrived === 2) release();
      await Promise.race([bothRead, new Promise((r) => setTimeout(r, 2000))]);
    };
    const worker = () =>
      new NotificationWorker(
        tdb.db,
        (s) => server.services.webhooks.signingKey(s),
        null,
        Date.now,
        pino({ level: 'silent' }),
        { unsafeNoSkipLocked, afterClaimRead, allowPrivate: true },
      );
    await Promise.all([worker().runOnce(), worker().runOnce()]);
    await server.admin.request('DELETE', `/api/v1/webhooks/${made.body.id}`);
    return {
      received: receiver.received.length,
      distinct: new Set(receiver.received.map((r) => r.headers['webhook-id'])).size,
    };
  }

  it('control: without SKIP LOCKED two workers deliver the same messages twice', async () => {
    const r = await race(true);
    expect(r.distinct).toBe(10);
    expect(r.received).toBe(20);
  });

  it('with FOR UPDATE SKIP LOCKED every message is delivered once', async () => {
    const r = await race(false);
    expect(r).toEqual({ received: 10, distinct: 10 });
  });
});
