import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../src/crypto/tokens.ts';
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

describeEachBackend('admin API', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db);
    ev = await seedEvent(server.admin);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  describe('events', () => {
    it('creates, lists and shows an event with everything configured on it', async () => {
      const r = await server.admin.post('/api/v1/events', {
        name: 'Night Show',
        starts_at: '2026-08-01T19:00',
        ends_at: '2026-08-02T02:00',
        timezone: 'Europe/Amsterdam',
        settings: { duplicate_window_s: 60 },
      });
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({
        name: 'Night Show',
        starts_at: '2026-08-01T17:00:00.000Z',
        timezone: 'Europe/Amsterdam',
        settings: { duplicate_window_s: 60 },
      });
      expect(r.body.id).toMatch(/^[0-9a-f-]{36}$/);
      const list = await server.admin.get('/api/v1/events');
      expect(list.body.events.map((e: { id: string }) => e.id)).toContain(r.body.id);
      const detail = await server.admin.get(`/api/v1/events/${ev.eventId}`);
      expect(detail.body.zones).toHaveLength(2);
      expect(detail.body.gates).toHaveLength(3);
      expect(detail.body.ticket_types.map((t: { name: string }) => t.name)).toEqual(['GA', 'Re-entry', 'VIP', '3-day']);
      expect(detail.body.keys).toEqual([
        { key_id: 1, public_key: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), active: true },
      ]);
    });

    it('explains bad input and names the field', async () => {
      const bad = async (body: unknown) => server.admin.post('/api/v1/events', body);
      expect((await bad({ name: 'x', starts_at: '2026-08-01T19:00Z' })).body).toEqual({
        error: 'INVALID_BODY',
        message: '/ends_at is required',
      });
      expect(
        (await bad({ name: 'x', starts_at: '2026-08-01T19:00Z', ends_at: '2026-08-01T18:00Z' })).body.message,
      ).toBe('/ends_at must be after /starts_at');
      expect(
        (
          await bad({
            name: 'x',
            starts_at: '2026-08-01T19:00Z',
            ends_at: '2026-08-02T18:00Z',
            timezone: 'Mars/Olympus',
          })
        ).body.message,
      ).toMatch(/timezone/);
      expect((await bad({ name: 'x', starts_at: 'tomorrow', ends_at: '2026-08-02T18:00Z' })).body.message).toMatch(
        /starts_at/,
      );
      expect(
        (await bad({ name: 'x', starts_at: '2026-08-01T19:00Z', ends_at: '2026-08-02T18:00Z', colour: 'red' })).body
          .message,
      ).toBe('(body) is not allowed (unknown field "colour")');
      expect((await bad({ name: 42, starts_at: '2026-08-01T19:00Z', ends_at: '2026-08-02T18:00Z' })).body.message).toBe(
        '/name must be string',
      );
      const malformed = await server.admin.request('POST', '/api/v1/events', '{"name": ', {
        'content-type': 'application/json',
      });
      expect(malformed.status).toBe(400);
      expect(malformed.body).toEqual({ error: 'INVALID_BODY', message: 'Malformed JSON body' });
      const wrongType = await server.admin.request('POST', '/api/v1/events', 'name=x', {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(wrongType.status).toBe(415);
      expect(wrongType.body.error).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect((await server.admin.get('/api/v1/events/not-a-uuid')).status).toBe(400);
      expect((await server.admin.get(`/api/v1/events/${crypto.randomUUID()}`)).body.error).toBe('NOT_FOUND');
      expect((await server.admin.get('/api/v1/nothing-here')).body.error).toBe('NOT_FOUND');
    });

    it('validates zones, gates and ticket types', async () => {
      const zones = `/api/v1/events/${ev.eventId}/zones`;
      expect((await server.admin.post(zones, { name: 'General' })).status).toBe(409);
      expect((await server.admin.post(zones, { name: 'Neg', capacity: -1 })).status).toBe(400);
      const gate = await server.admin.post(`/api/v1/events/${ev.eventId}/gates`, {
        name: 'Side',
        zone_ids: [crypto.randomUUID()],
      });
      expect(gate.status).toBe(400);
      expect(gate.body.message).toMatch(/^\/zone_ids: unknown zone/);
      const types = `/api/v1/events/${ev.eventId}/ticket-types`;
      const window = await server.admin.post(types, {
        name: 'Window',
        zone_ids: [],
        valid_from: '2026-08-01T20:00',
        valid_until: '2026-08-01T19:00',
      });
      expect(window.body.message).toBe('/valid_until must be after /valid_from');
      expect((await server.admin.post(types, { name: 'Zero', zone_ids: [], max_scans: 0 })).status).toBe(400);
      const ok = await server.admin.post(types, {
        name: 'Evening',
        zone_ids: [ev.zones.general],
        valid_from: '2026-08-01T20:00',
        max_scans: 2,
      });
      expect(ok.status).toBe(201);
      // Local times are read in the event's time zone (the seed event is in Europe/Amsterdam, UTC+2 in August).
      expect(ok.body).toMatchObject({ valid_from: '2026-08-01T18:00:00.000Z', max_scans: 2, allow_reentry: false });
    });
  });

  describe('tickets', () => {
    it('issues signed codes and accepts imported ones, numbering them', async () => {
      const issued = await issueTickets(server.admin, ev.eventId, [
        { ticket_type_id: ev.types.ga, holder_name: 'Grace Hopper' },
        { ticket_type_id: ev.types.vip, code: 'EXT-42', number: 'A-42' },
      ]);
      expect(issued[0]!.code).toMatch(/^EN[A-Z2-7]{100,}$/);
      expect(issued[0]!.code.length).toBeLessThanOrEqual(120);
      expect(issued[1]).toMatchObject({ code: 'EXT-42', number: 'A-42' });
      const t = await server.admin.get(`/api/v1/tickets/${issued[0]!.id}`);
      expect(t.body).toMatchObject({
        id: issued[0]!.id,
        tier: 'GA',
        holder_name: 'Grace Hopper',
        status: 'valid',
        scans_used: 0,
        inside: false,
        scans: [],
      });
    });

    it('creates 10,000 tickets in one call and refuses 10,001', async () => {
      const many = Array.from({ length: 10_000 }, (_, i) => ({
        ticket_type_id: ev.types.ga,
        holder_name: `Guest ${i}`,
      }));
      const r = await server.admin.post(`/api/v1/events/${ev.eventId}/tickets`, { tickets: many });
      expect(r.status).toBe(201);
      expect(r.body.tickets).toHaveLength(10_000);
      expect(new Set(r.body.tickets.map((t: { code: string }) => t.code)).size).toBe(10_000);
      const tooMany = await server.admin.post(`/api/v1/events/${ev.eventId}/tickets`, { tickets: [...many, many[0]] });
      expect(tooMany.status).toBe(400);
      expect(tooMany.body.message).toMatch(/^\/tickets must NOT have more than 10000 items/);
    });

    it('is all or nothing: a clash anywhere creates nothing', async () => {
      const count = async () =>
        (
          await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM tickets WHERE event_id = $1`, [ev.eventId])
        )[0]!.n;
      await issueTickets(server.admin, ev.eventId, [
        { ticket_type_id: ev.types.ga, code: 'TAKEN-1', number: 'N-TAKEN' },
      ]);
      const before = await count();
      const inBatch = await server.admin.post(`/api/v1/events/${ev.eventId}/tickets`, {
        tickets: [
          { ticket_type_id: ev.types.ga, code: 'NEW-1' },
          { ticket_type_id: ev.types.ga, code: 'NEW-1' },
        ],
      });
      expect(inBatch.status).toBe(409);
      expect(inBatch.body).toEqual({ error: 'DUPLICATE_CODE', message: '/tickets/1/code repeats /tickets/0/code' });
      const existing = await server.admin.post(`/api/v1/events/${ev.eventId}/tickets`, {
        tickets: [
          { ticket_type_id: ev.types.ga, code: 'NEW-2' },
          { ticket_type_id: ev.types.ga, code: 'TAKEN-1' },
        ],
      });
      expect(existing.status).toBe(409);
      expect(existing.body.error).toBe('DUPLICATE_CODE');
      expect(existing.body.message).toMatch(/^\/tickets\/1\/code is already used/);
      const number = await server.admin.post(`/api/v1/events/${ev.eventId}/tickets`, {
        tickets: [{ ticket_type_id: ev.types.ga, number: 'N-TAKEN' }],
      });
      expect(number.body.error).toBe('DUPLICATE_NUMBER');
      const unknownType = await server.admin.post(`/api/v1/events/${ev.eventId}/tickets`, {
        tickets: [{ ticket_type_id: ev.types.ga }, { ticket_type_id: crypto.randomUUID() }],
      });
      expect(unknownType.body).toEqual({
        error: 'INVALID_BODY',
        message: '/tickets/1/ticket_type_id is not a ticket type of this event',
      });
      const control = await server.admin.post(`/api/v1/events/${ev.eventId}/tickets`, {
        tickets: [{ ticket_type_id: ev.types.ga, code: 'bad\u0007code' }],
      });
      expect(control.status).toBe(400);
      expect(await count()).toBe(before);
    });

    it('cancels and blocks with a reason, idempotently', async () => {
      const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
      const c = await server.admin.post(`/api/v1/tickets/${t!.id}/cancel`, { reason: 'refund #77' });
      expect(c.body).toMatchObject({ status: 'cancelled', status_reason: 'refund #77' });
      expect((await server.admin.post(`/api/v1/tickets/${t!.id}/cancel`, {})).body.status).toBe('cancelled');
      expect((await server.admin.post(`/api/v1/tickets/${t!.id}/block`)).body.status).toBe('blocked');
      expect((await server.admin.post(`/api/v1/tickets/${crypto.randomUUID()}/cancel`)).status).toBe(404);
    });

    it('exports codes page by page, the same codes that were issued', async () => {
      const other = await seedEvent(server.admin);
      const issued = await issueTickets(server.admin, other.eventId, [
        ...Array.from({ length: 5 }, () => ({ ticket_type_id: other.types.ga })),
        { ticket_type_id: other.types.vip, code: 'IMPORTED-9' },
      ]);
      const p1 = await server.admin.get(`/api/v1/events/${other.eventId}/tickets?limit=4`);
      expect(p1.body.tickets).toHaveLength(4);
      const p2 = await server.admin.get(`/api/v1/events/${other.eventId}/tickets?limit=4&after=${p1.body.next_after}`);
      expect(p2.body.next_after).toBeNull();
      const exported = [...p1.body.tickets, ...p2.body.tickets].map((t: { code: string }) => t.code);
      expect(exported).toEqual(issued.map((t) => t.code));
      expect((await server.admin.get(`/api/v1/events/${other.eventId}/tickets?limit=0`)).status).toBe(400);
    });
  });

  describe('devices', () => {
    it('registers a device with a token shown once and stored hashed', async () => {
      const r = await server.admin.post('/api/v1/devices', {
        name: 'North 1',
        device_id: 'north-1',
        device_type: 'mobile',
      });
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({ device_id: 'north-1', name: 'North 1', device_type: 'mobile', status: 'active' });
      expect(r.body.token).toMatch(/^edt_[A-Za-z0-9_-]{43}$/);
      const list = await server.admin.get('/api/v1/devices');
      const listed = list.body.devices.find((d: { device_id: string }) => d.device_id === 'north-1');
      expect(listed).toBeDefined();
      expect(JSON.stringify(list.body)).not.toContain(r.body.token);
      const rows = await tdb.db.query<{ token_hash: Uint8Array }>(
        `SELECT token_hash FROM devices WHERE device_id = 'north-1'`,
      );
      expect(Buffer.from(rows[0]!.token_hash).equals(hashToken(r.body.token))).toBe(true);
      const dump =
        JSON.stringify(await tdb.db.query(`SELECT * FROM devices`)) +
        JSON.stringify(await tdb.db.query(`SELECT * FROM admin_tokens`));
      expect(dump).not.toContain(r.body.token);
      expect(dump).not.toContain(server.adminToken);
    });

    it('refuses duplicates and bad keys', async () => {
      await registerDevice(server.admin, 'Dup', { device_id: 'dup-1' });
      expect((await server.admin.post('/api/v1/devices', { name: 'Dup', device_id: 'dup-1' })).status).toBe(409);
      expect((await server.admin.post('/api/v1/devices', { name: 'K', public_key: 'A'.repeat(50) })).body.error).toBe(
        'INVALID_BODY',
      );
      const withKey = await server.admin.post('/api/v1/devices', {
        name: 'K',
        public_key: Buffer.alloc(32, 7).toString('base64url'),
      });
      expect(withKey.body.has_public_key).toBe(true);
      expect((await server.admin.post('/api/v1/devices/nobody/suspend')).status).toBe(404);
      expect((await server.admin.post('/api/v1/devices/dup-1/revoke', {})).body.message).toBe('/reason is required');
    });
  });

  describe('authentication and isolation', () => {
    it('needs an admin token', async () => {
      expect((await server.client('').get('/api/v1/events')).body).toEqual({
        error: 'UNAUTHORIZED',
        message: 'Log in (POST /api/v1/auth/login) or send an admin token (Authorization: Bearer <token>)',
      });
      expect((await server.client('eat_wrong').get('/api/v1/events')).status).toBe(401);
      const d = await registerDevice(server.admin, 'Not an admin');
      expect((await server.client(d.token).get('/api/v1/events')).status).toBe(401);
    });

    it("keeps organisations apart: another organisation's objects are not found", async () => {
      const org = await server.admin.post('/api/v1/organisations', { name: 'Other Org' });
      expect(org.status).toBe(201);
      const other = server.client(org.body.admin_token);
      expect((await other.get('/api/v1/events')).body.events).toEqual([]);
      expect((await other.get(`/api/v1/events/${ev.eventId}`)).status).toBe(404);
      expect((await other.post(`/api/v1/events/${ev.eventId}/zones`, { name: 'Hijack' })).status).toBe(404);
      expect(
        (await other.post(`/api/v1/events/${ev.eventId}/tickets`, { tickets: [{ ticket_type_id: ev.types.ga }] }))
          .status,
      ).toBe(404);
      expect((await other.get(`/api/v1/events/${ev.eventId}/occupancy`)).status).toBe(404);
      expect((await other.get(`/api/v1/events/${ev.eventId}/tickets`)).status).toBe(404);
      const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
      expect((await other.get(`/api/v1/tickets/${t!.id}`)).status).toBe(404);
      expect((await other.post(`/api/v1/tickets/${t!.id}/cancel`)).status).toBe(404);
      const mine = await registerDevice(server.admin, 'Mine', { device_id: 'mine-1' });
      expect((await other.post('/api/v1/devices/mine-1/suspend')).status).toBe(404);
      expect((await other.get('/api/v1/devices')).body.devices).toEqual([]);
      // A device of the other organisation cannot scan at this event, nor see it.
      const theirs = await registerDevice(other, 'Theirs');
      const dev = server.client(theirs.token);
      expect(
        (await dev.post('/api/v1/scanning/sessions', { event_id: ev.eventId, gate_id: ev.gates.main })).status,
      ).toBe(404);
      expect(
        (await dev.post('/api/v1/scanning/scan', { code: t!.code, event_id: ev.eventId, gate_id: ev.gates.main }))
          .status,
      ).toBe(404);
      // Organisation tokens cannot create organisations.
      expect((await other.post('/api/v1/organisations', { name: 'Nope' })).body.error).toBe('FORBIDDEN');
      expect(mine.deviceId).toBe('mine-1');
    });

    it('limits body size', async () => {
      const huge = { code: 'x'.repeat(20_000), event_id: ev.eventId, gate_id: ev.gates.main };
      const d = await registerDevice(server.admin, 'Big');
      // Over a socket: the limit is about what the server reads from it.
      const r = await server.httpClient(d.token).post('/api/v1/scanning/scan', huge);
      expect(r.status).toBe(413);
      expect(r.body.error).toBe('PAYLOAD_TOO_LARGE');
    });
  });

  it('serves health, the OpenAPI document and the docs page', async () => {
    const h = await server.client('').get('/api/health');
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ status: 'ok', db: 'ok', version: '0.1.0' });
    expect(Date.parse(h.body.time)).not.toBeNaN();
    const doc = await server.client('').get('/docs/json');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/api/v1/scanning/scan', '/api/v1/events/{eventId}/tickets']),
    );
    const page = await fetch(`${server.url}/docs/`);
    expect(page.status).toBe(200);
    expect(await page.text()).not.toMatch(/https?:\/\/(cdn|unpkg|jsdelivr)/);
  });
});

describe('login-like endpoints are rate limited', () => {
  it('answers 429 after repeated failed authentications from one address', async () => {
    const { pgliteBackend } = await import('./harness.ts');
    const tdb = await pgliteBackend.open();
    const server = await startTestServer(tdb.db);
    try {
      // Over a socket: the limit is per client address.
      const bad = server.httpClient('eat_guess');
      const statuses: number[] = [];
      for (let i = 0; i < 35; i++) statuses.push((await bad.get('/api/v1/events')).status);
      expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
      expect(statuses.at(-1)).toBe(429);
      const logged = await tdb.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM login_logs WHERE success = false`,
      );
      expect(logged[0]!.n).toBe(30);
    } finally {
      await server.close();
      await tdb.drop();
    }
  });
});
