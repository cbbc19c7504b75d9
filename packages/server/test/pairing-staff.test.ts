import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { normalisePairingCode } from '@entrada/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { createLogger, startServer } from '../src/server.ts';
import { pairingCodeHash, PAIRING_FAILURE_LIMIT } from '../src/services/pairing-service.ts';
import { LOGIN_DEVICE_FAILURES, LOGIN_IP_FAILURES } from '../src/services/staff-service.ts';
import { insertPairingCode } from '../src/store/pairing.ts';
import {
  Client,
  describeEachBackend,
  pgliteBackend,
  registerDevice,
  seedEvent,
  startTestServer,
  TEST_SECRET,
  type Reply,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from './harness.ts';

const CODE = /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/;
const UA = 'EntradaScanner/1.0 (test)';

/** A real Ed25519 public key, base64url, as a scanner would send it. */
function publicKey(): string {
  return generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!;
}

describeEachBackend('pairing and staff login', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  let anon: Client;
  // The server's clock: moved forward to expire codes and to empty rate-limit windows between tests.
  let offset = 0;
  const now = (): number => Date.now() + offset;

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db, { now });
    ev = await seedEvent(server.admin);
    anon = new Client(server.url, null);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });
  // Every rate-limit window (5 and 15 minutes) is over by the next test.
  afterEach(() => {
    offset += 20 * 60_000;
  });

  const makeCode = async (body: Record<string, unknown> = {}): Promise<Reply> => {
    const r = await server.admin.post('/api/v1/devices/pairing-codes', { event_id: ev.eventId, ...body });
    expect(r.status).toBe(201);
    return r;
  };
  const pair = (code: string, extra: Record<string, unknown> = {}, client = anon): Promise<Reply> =>
    client.request('POST', '/api/v1/devices/pair', { code, public_key: publicKey(), ...extra }, { 'user-agent': UA });

  describe('pairing codes', () => {
    it('makes a short single-use code with its pair URL and QR', async () => {
      const before = now();
      const r = await makeCode({ gate_id: ev.gates.main, name: 'North 1' });
      expect(r.body).toMatchObject({ event_id: ev.eventId, gate_id: ev.gates.main, name: 'North 1' });
      expect(r.body.code).toMatch(CODE);
      // Without ENTRADA_PUBLIC_URL the origin is the one the request came in on.
      expect(r.body.pair_url).toBe(`${server.url}/?pair=${r.body.code}`);
      expect(r.body.qr_svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<path[\s\S]*<\/svg>\s*$/);
      const expires = Date.parse(r.body.expires_at);
      expect(expires).toBeGreaterThanOrEqual(before + 900_000);
      expect(expires).toBeLessThanOrEqual(now() + 900_000);
      const day = await makeCode({ ttl_s: 86_400 });
      expect(Date.parse(day.body.expires_at) - Date.parse(r.body.expires_at)).toBeGreaterThan(
        86_400_000 - 900_000 - 60_000,
      );
      expect(day.body.gate_id).toBeNull();

      // Documented, the redemption without a bearer token.
      const doc = await anon.get('/docs/json');
      expect(Object.keys(doc.body.paths)).toEqual(
        expect.arrayContaining([
          '/api/v1/devices/pairing-codes',
          '/api/v1/devices/pair',
          '/api/v1/events/{eventId}/staff',
          '/api/v1/events/{eventId}/login',
          '/api/v1/events/{eventId}/staff/{staffId}/deactivate',
          '/api/v1/events/{eventId}/login-logs',
        ]),
      );
      expect(doc.body.paths['/api/v1/devices/pair'].post.security).toEqual([]);

      // Only its digest is stored.
      const rows = await tdb.db.query<{ code_hash: string }>(
        `SELECT code_hash FROM pairing_codes WHERE event_id = $1`,
        [ev.eventId],
      );
      expect(rows.map((x) => x.code_hash)).toContain(pairingCodeHash(normalisePairingCode(r.body.code)!));
      expect(JSON.stringify(rows)).not.toContain(r.body.code.replace('-', ''));
    });

    it('validates the request and keeps organisations apart', async () => {
      const post = (body: unknown, client = server.admin) => client.post('/api/v1/devices/pairing-codes', body);
      expect((await post({ event_id: ev.eventId, ttl_s: 59 })).body).toEqual({
        error: 'INVALID_BODY',
        message: '/ttl_s must be >= 60',
      });
      expect((await post({ event_id: ev.eventId, ttl_s: 86_401 })).status).toBe(400);
      expect((await post({})).body.message).toBe('/event_id is required');
      expect((await post({ event_id: crypto.randomUUID() })).body).toEqual({
        error: 'NOT_FOUND',
        message: 'Event not found',
      });
      expect((await post({ event_id: ev.eventId, gate_id: crypto.randomUUID() })).body).toEqual({
        error: 'NOT_FOUND',
        message: 'Gate not found',
      });
      expect((await post({ event_id: ev.eventId }, anon)).status).toBe(401);

      const org = await server.admin.post('/api/v1/organisations', { name: 'Pairing Rivals' });
      const other = server.client(org.body.admin_token);
      expect((await post({ event_id: ev.eventId }, other)).body.error).toBe('NOT_FOUND');
      const theirs = await seedEvent(other);
      // Their event with our gate: the gate is not theirs.
      expect((await post({ event_id: theirs.eventId, gate_id: ev.gates.main }, other)).body).toEqual({
        error: 'NOT_FOUND',
        message: 'Gate not found',
      });
      expect((await post({ event_id: theirs.eventId, gate_id: theirs.gates.vip }, other)).status).toBe(201);
    });

    it('pairs a device with its public key and token, once', async () => {
      const made = await makeCode({ gate_id: ev.gates.vip });
      const key = publicKey();
      const r = await anon.request('POST', '/api/v1/devices/pair', {
        code: made.body.code,
        public_key: key,
        name: 'Phone Ann',
        platform: 'android',
      });
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({
        device_id: expect.stringMatching(/^dev_[0-9a-f]{12}$/),
        token: expect.stringMatching(/^edt_/),
        gate_id: ev.gates.vip,
        device: { name: 'Phone Ann', device_type: 'scanner', status: 'active', has_public_key: true },
        event: {
          id: ev.eventId,
          name: 'Test Event',
          timezone: 'Europe/Amsterdam',
          starts_at: expect.any(String),
          ends_at: expect.any(String),
        },
      });
      expect(r.body.device.device_id).toBe(r.body.device_id);
      expect(r.body.gates.map((g: { id: string }) => g.id).sort()).toEqual(Object.values(ev.gates).sort());
      expect(r.body.gates[0]).toEqual({
        id: expect.any(String),
        name: expect.any(String),
        zone_ids: expect.any(Array),
      });

      // The token is a working device token, and the key is the one sent.
      const device = server.client(r.body.token);
      expect(
        (await device.post('/api/v1/scanning/sessions', { event_id: ev.eventId, gate_id: ev.gates.vip })).status,
      ).toBe(201);
      const [row] = await tdb.db.query<{
        public_key: Uint8Array;
        settings: Record<string, unknown>;
        organisation_id: string;
      }>(`SELECT public_key, settings, organisation_id FROM devices WHERE device_id = $1`, [r.body.device_id]);
      expect(Buffer.from(row!.public_key).toString('base64url')).toBe(key);
      expect(row!.settings).toEqual({ platform: 'android' });
      const [code] = await tdb.db.query<{ used_at: Date | null; device_id: string | null }>(
        `SELECT used_at, device_id FROM pairing_codes WHERE code_hash = $1`,
        [pairingCodeHash(normalisePairingCode(made.body.code)!)],
      );
      expect(code!.used_at).not.toBeNull();
      expect(code!.device_id).toBe(r.body.device_id);

      const again = await pair(made.body.code);
      expect(again.status).toBe(410);
      expect(again.body).toEqual({ error: 'PAIRING_CODE_USED', message: expect.stringContaining('already been used') });

      // The organiser's name for the device wins over the device's own.
      const named = await makeCode({ name: 'North 1' });
      expect((await pair(named.body.code, { name: 'My phone' })).body.device.name).toBe('North 1');
      expect((await pair((await makeCode()).body.code)).body.device.name).toBe('Paired scanner');
    });

    it('reads codes the way people type them: any case, hyphens and spaces, O for 0, I and L for 1', async () => {
      expect(normalisePairingCode(' a0b1-c0d1 ')).toBe('A0B1C0D1');
      expect(normalisePairingCode('aob l-c o d i')).toBe('A0B1C0D1');
      expect(normalisePairingCode('A0B1-C0DU')).toBeNull(); // U is not in Crockford's alphabet
      expect(normalisePairingCode('A0B1-C0D')).toBeNull();
      const orgId = (
        await tdb.db.query<{ organisation_id: string }>(`SELECT organisation_id FROM events WHERE id = $1`, [
          ev.eventId,
        ])
      )[0]!.organisation_id;
      // A code with the ambiguous digits in it, stored the way the service stores one.
      await insertPairingCode(tdb.db, {
        organisationId: orgId,
        eventId: ev.eventId,
        codeHash: pairingCodeHash('A0B1C0D1'),
        name: null,
        gateId: null,
        createdAt: now(),
        expiresAt: now() + 60_000,
      });
      expect((await pair('aob l-c o d i')).status).toBe(201);
      expect((await pair('A0B1-C0D1')).body.error).toBe('PAIRING_CODE_USED');
    });

    it('answers unknown 404, expired and used 410, a bad public key 400 (without using the code up)', async () => {
      expect((await pair('ZZZZ-ZZZZ')).body).toEqual({
        error: 'PAIRING_CODE_INVALID',
        message: expect.stringContaining('Unknown pairing code'),
      });
      expect((await pair('ZZZZ-ZZZZ')).status).toBe(404);
      expect((await pair('not a code')).body.error).toBe('PAIRING_CODE_INVALID');

      const made = await makeCode();
      const badKey = await pair(made.body.code, { public_key: 'A'.repeat(42) });
      expect(badKey.status).toBe(400);
      expect(badKey.body.message).toMatch(/^\/public_key /);
      expect((await pair(made.body.code, { public_key: '!'.repeat(43) })).body.message).toMatch(/^\/public_key /);
      const noKey = await anon.post('/api/v1/devices/pair', { code: made.body.code });
      expect(noKey.body).toEqual({ error: 'INVALID_BODY', message: '/public_key is required' });
      expect((await pair(made.body.code, { extra: 1 })).status).toBe(400);

      const short = await makeCode({ ttl_s: 60 });
      offset += 61_000;
      const expired = await pair(short.body.code);
      expect(expired.status).toBe(410);
      expect(expired.body.error).toBe('PAIRING_CODE_EXPIRED');
      // The first code survived the bad requests (and has 15 minutes).
      expect((await pair(made.body.code)).status).toBe(201);
    });

    it('one code, many simultaneous redemptions: exactly one device', async () => {
      const made = await makeCode();
      // On PostgreSQL a second instance shares the database, so the race is across connections and processes' caches.
      const second =
        backend.name === 'postgres' && tdb.url
          ? await (async () => {
              const db = openPostgres({ connectionString: tdb.url!, maxConnections: 10 });
              const inst = await startTestServer(db, { adminToken: server.adminToken, now });
              return {
                inst,
                async close() {
                  await inst.close();
                  await db.close();
                },
              };
            })()
          : null;
      try {
        const clients = [anon, second ? new Client(second.inst.url, null) : anon];
        const [before] = await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM devices`);
        const replies = await Promise.all(
          Array.from({ length: 8 }, (_, i) => pair(made.body.code, {}, clients[i % 2]!)),
        );
        const statuses = replies.map((r) => r.status).sort();
        expect(statuses).toEqual([201, 410, 410, 410, 410, 410, 410, 410]);
        for (const r of replies.filter((x) => x.status === 410)) expect(r.body.error).toBe('PAIRING_CODE_USED');
        const [after] = await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM devices`);
        expect(after!.n).toBe(before!.n + 1);
      } finally {
        await second?.close();
      }
    });

    it('slows down guessing: failed redemptions per address are rate limited (429 with Retry-After)', async () => {
      const good = await makeCode({ ttl_s: 3600 });
      for (let i = 0; i < PAIRING_FAILURE_LIMIT; i++) expect((await pair(`ZZZZ-ZZ${i}Z`)).status).toBe(404);
      const blocked = await pair(good.body.code);
      expect(blocked.status).toBe(429);
      expect(blocked.body.error).toBe('RATE_LIMITED');
      const retry = Number(blocked.headers.get('retry-after'));
      expect(retry).toBeGreaterThan(0);
      expect(retry).toBeLessThanOrEqual(15 * 60);
      expect(blocked.body.retry_after_s).toBe(retry);
      // Once the window has passed, the good code (not consumed by the refusal) still pairs.
      offset += retry * 1000;
      expect((await pair(good.body.code)).status).toBe(201);

      // A burst of parallel guesses gets no more tries than the limit.
      offset += 20 * 60_000;
      const burst = await Promise.all(
        Array.from({ length: PAIRING_FAILURE_LIMIT + 8 }, (_, i) => pair(`YYYY-YY${i % 10}${'ABCDEFGH'[i % 8]}`)),
      );
      expect(burst.filter((r) => r.status === 404)).toHaveLength(PAIRING_FAILURE_LIMIT);
      expect(burst.filter((r) => r.status === 429)).toHaveLength(8);

      // Attempts are logged without the code.
      const logs = await tdb.db.query<Record<string, unknown>>(
        `SELECT * FROM login_logs WHERE identifier = 'pairing-code' ORDER BY created_at`,
      );
      expect(logs.map((l) => l.message)).toEqual(
        expect.arrayContaining(['unknown pairing code', 'rate limited', 'device paired']),
      );
      expect(logs.some((l) => l.user_agent === UA && l.success === true && l.event_id === ev.eventId)).toBe(true);
      const text = JSON.stringify(logs);
      expect(text).not.toContain(good.body.code);
      expect(text).not.toContain(good.body.code.replace('-', ''));
    });
  });

  describe('staff', () => {
    let devices: Array<{ deviceId: string; token: string }>;
    beforeAll(async () => {
      devices = [];
      for (let i = 0; i < 7; i++) devices.push(await registerDevice(server.admin, `Staff device ${i}`));
    });
    const staffUrl = (eventId = ev.eventId): string => `/api/v1/events/${eventId}/staff`;
    const login = (token: string, username: string, pin: string, eventId = ev.eventId): Promise<Reply> =>
      server.client(token).request('POST', `/api/v1/events/${eventId}/login`, { username, pin }, { 'user-agent': UA });

    it('adds, lists and deactivates staff accounts', async () => {
      const r = await server.admin.post(staffUrl(), { username: 'Ann', name: 'Ann de Vries', pin: '4711' });
      expect(r.status).toBe(201);
      expect(r.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        username: 'Ann',
        name: 'Ann de Vries',
        active: true,
        created_at: expect.any(String),
      });
      const dup = await server.admin.post(staffUrl(), { username: 'ANN', name: 'Other Ann', pin: '1234' });
      expect(dup.status).toBe(409);
      expect(dup.body.error).toBe('CONFLICT');
      expect((await server.admin.post(staffUrl(), { username: 'bob', name: 'Bob', pin: '12a4' })).body).toEqual({
        error: 'INVALID_BODY',
        message: '/pin must match pattern "^[0-9]{4,12}$"',
      });
      expect((await server.admin.post(staffUrl(), { username: 'bob', name: 'Bob', pin: '123' })).status).toBe(400);
      expect((await server.admin.post(staffUrl(), { username: 'bob', name: 'Bob', pin: '1234567890123' })).status).toBe(
        400,
      );
      expect((await server.admin.post(staffUrl(), { username: 'bob', name: 'Bob' })).body.message).toBe(
        '/pin is required',
      );
      const bob = await server.admin.post(staffUrl(), { username: 'bob', name: 'Bob', pin: '000000000000' });
      expect(bob.status).toBe(201);

      const list = await server.admin.get(staffUrl());
      expect(list.body.staff.map((s: { username: string }) => s.username)).toEqual(['Ann', 'bob']);
      // No PIN, hash or field naming one (ids are random hex and may contain the digits 4711: compare values, not the text).
      const values = JSON.stringify(list.body, (key, value: unknown) => (/pin|hash/i.test(key) ? '<leaked>' : value));
      expect(values).not.toMatch(/<leaked>|scrypt/);
      expect(list.body.staff.flatMap((s: Record<string, unknown>) => Object.values(s))).not.toContain('4711');

      const off = await server.admin.post(`${staffUrl()}/${bob.body.id}/deactivate`);
      expect(off.body).toMatchObject({ id: bob.body.id, username: 'bob', active: false });
      expect((await server.admin.post(`${staffUrl()}/${crypto.randomUUID()}/deactivate`)).status).toBe(404);

      // PINs are stored as salted scrypt hashes.
      const rows = await tdb.db.query<{ pin_hash: string }>(`SELECT pin_hash FROM event_staff WHERE event_id = $1`, [
        ev.eventId,
      ]);
      for (const row of rows)
        expect(row.pin_hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
      expect(new Set(rows.map((x) => x.pin_hash.split('$')[4])).size).toBe(rows.length);
    });

    it('logs staff in on a device; every failure gets the same answer', async () => {
      await server.admin.post(staffUrl(), { username: 'carla', name: 'Carla', pin: '2468' });
      const quiet = await server.admin.post(staffUrl(), { username: 'dirk', name: 'Dirk', pin: '1357' });
      await server.admin.post(`${staffUrl()}/${quiet.body.id}/deactivate`);
      const token = devices[0]!.token;

      const ok = await login(token, 'CARLA', '2468');
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({
        staff: { id: expect.any(String), username: 'carla', name: 'Carla' },
        event_id: ev.eventId,
        logged_in_at: expect.any(String),
      });
      expect(Math.abs(Date.parse(ok.body.logged_in_at) - now())).toBeLessThan(60_000);

      const wrongPin = await login(token, 'carla', '2469');
      const unknown = await login(token, 'nobody', '2468');
      const inactive = await login(token, 'dirk', '1357');
      for (const r of [wrongPin, unknown, inactive]) {
        expect(r.status).toBe(401);
        expect(r.body).toEqual(wrongPin.body);
      }
      expect(wrongPin.body.error).toBe('INVALID_LOGIN');

      // Accounts belong to one event.
      const elsewhere = await seedEvent(server.admin, { name: 'Other night' });
      expect((await login(token, 'carla', '2468', elsewhere.eventId)).status).toBe(401);
      // Another organisation's event, or its device, is not found.
      const org = await server.admin.post('/api/v1/organisations', { name: 'Login Rivals' });
      const other = server.client(org.body.admin_token);
      const theirs = await seedEvent(other);
      expect((await login(token, 'carla', '2468', theirs.eventId)).body).toEqual({
        error: 'NOT_FOUND',
        message: 'Event not found',
      });
      const theirDevice = await registerDevice(other, 'Their scanner');
      expect((await login(theirDevice.token, 'carla', '2468')).status).toBe(404);
      for (const path of [staffUrl(), `/api/v1/events/${ev.eventId}/login-logs`])
        expect((await other.get(path)).status).toBe(404);
      expect((await other.post(staffUrl(), { username: 'x', name: 'X', pin: '1234' })).status).toBe(404);
      expect((await other.post(`${staffUrl()}/${quiet.body.id}/deactivate`)).status).toBe(404);
      // An admin token is not a device token, and a suspended device cannot log anyone in.
      expect((await login(server.adminToken, 'carla', '2468')).status).toBe(401);
      await server.admin.post(`/api/v1/devices/${devices[6]!.deviceId}/suspend`, {});
      expect((await login(devices[6]!.token, 'carla', '2468')).body.error).toBe('DEVICE_SUSPENDED');
    });

    it(`rate limits ${LOGIN_DEVICE_FAILURES} failures per device and event`, async () => {
      await server.admin.post(staffUrl(), { username: 'erik', name: 'Erik', pin: '9999' });
      const [a, b] = [devices[1]!.token, devices[2]!.token];
      for (let i = 0; i < LOGIN_DEVICE_FAILURES; i++) expect((await login(a, 'erik', `000${i}`)).status).toBe(401);
      const blocked = await login(a, 'erik', '9999');
      expect(blocked.status).toBe(429);
      expect(blocked.body.error).toBe('RATE_LIMITED');
      const retry = Number(blocked.headers.get('retry-after'));
      expect(retry).toBeGreaterThan(0);
      expect(retry).toBeLessThanOrEqual(300);
      // Another device is not affected.
      expect((await login(b, 'erik', '9999')).status).toBe(200);
      offset += retry * 1000;
      expect((await login(a, 'erik', '9999')).status).toBe(200);

      // A burst of parallel guesses gets no more tries than the limit.
      const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => login(b, 'erik', String(1000 + i))));
      expect(burst.filter((r) => r.status === 401)).toHaveLength(LOGIN_DEVICE_FAILURES);
      expect(burst.filter((r) => r.status === 429)).toHaveLength(12 - LOGIN_DEVICE_FAILURES);
    });

    it(`rate limits ${LOGIN_IP_FAILURES} failures per address, which a success does not reset`, async () => {
      await server.admin.post(staffUrl(), { username: 'fenna', name: 'Fenna', pin: '8080' });
      const tokens = devices.slice(0, 6).map((d) => d.token);
      let failures = 0;
      const fail = async (token: string): Promise<void> => {
        expect((await login(token, 'fenna', '0000')).status).toBe(401);
        failures++;
      };
      for (const token of tokens.slice(0, 4)) for (let i = 0; i < LOGIN_DEVICE_FAILURES - 1; i++) await fail(token);
      expect((await login(tokens[4]!, 'fenna', '8080')).status).toBe(200);
      while (failures < LOGIN_IP_FAILURES) await fail(failures < 19 ? tokens[4]! : tokens[5]!);
      const blocked = await login(tokens[5]!, 'fenna', '8080');
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    });

    it("writes every attempt to the event's login log, never the PIN", async () => {
      await server.admin.post(staffUrl(), { username: 'gina', name: 'Gina', pin: '73918462' });
      const token = devices[3]!.token;
      expect((await login(token, 'gina', '73918462')).status).toBe(200);
      expect((await login(token, 'gina', '55501234')).status).toBe(401);
      for (let i = 0; i < LOGIN_DEVICE_FAILURES - 1; i++) await login(token, 'gina', '55501234');
      expect((await login(token, 'gina', '73918462')).status).toBe(429);

      const r = await server.admin.get(`/api/v1/events/${ev.eventId}/login-logs?limit=7`);
      expect(r.status).toBe(200);
      const logs = r.body.logs as Array<Record<string, unknown>>;
      expect(logs).toHaveLength(7);
      expect(logs.map((l) => l.message)).toEqual([
        'rate limited',
        'wrong PIN',
        'wrong PIN',
        'wrong PIN',
        'wrong PIN',
        'wrong PIN',
        'logged in',
      ]);
      expect(logs[6]).toMatchObject({
        identifier: 'gina',
        device_id: devices[3]!.deviceId,
        staff_id: expect.any(String),
        success: true,
        user_agent: UA,
        ip_address: expect.stringMatching(/127\.0\.0\.1|::1/),
      });
      expect(logs[0]).toMatchObject({ success: false, staff_id: null });
      const times = logs.map((l) => Date.parse(l.created_at as string));
      expect([...times].sort((x, y) => y - x)).toEqual(times);
      expect((await server.admin.get(`/api/v1/events/${ev.eventId}/login-logs?limit=0`)).status).toBe(400);
      expect((await server.admin.get(`/api/v1/events/${ev.eventId}/login-logs`)).body.logs.length).toBeGreaterThan(7);

      // Every text column (ids and times are left out: a short PIN can turn up inside a UUID).
      const all = JSON.stringify(
        await tdb.db.query(`SELECT identifier, device_id, message, ip_address, user_agent FROM event_login_logs`),
      );
      for (const pin of ['73918462', '55501234', '2468', '9999', '8080']) expect(all).not.toContain(pin);
    });
  });
});

describe('pair URLs with ENTRADA_PUBLIC_URL', () => {
  it('use the public origin, whatever host the request came in on', async () => {
    const tdb = await pgliteBackend.open();
    const adminToken = 'eat_public_url_test';
    const config = {
      ...loadConfig({ ENTRADA_PUBLIC_URL: 'https://tickets.example.org/entrada/' }),
      port: 0,
      host: '127.0.0.1',
      secret: TEST_SECRET,
      demo: false,
      adminToken,
    };
    const server = await startServer({ config, db: tdb.db, logger: false });
    try {
      expect(server.url).toBe('https://tickets.example.org/entrada');
      const admin = new Client(`http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`, adminToken);
      const ev = await seedEvent(admin);
      const r = await admin.post('/api/v1/devices/pairing-codes', { event_id: ev.eventId });
      expect(r.body.pair_url).toBe(`https://tickets.example.org/entrada/?pair=${r.body.code}`);
    } finally {
      await server.close();
      await tdb.drop();
    }
    expect(() => loadConfig({ ENTRADA_PUBLIC_URL: 'tickets.example.org' })).toThrow(
      /ENTRADA_PUBLIC_URL must be an http\(s\) URL/,
    );
  });
});

describe('logs of pairing and staff login', () => {
  it('never contain a PIN, a pairing code or a token', async () => {
    const lines: string[] = [];
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => lines.push(chunk.toString('utf8')));
    const tdb = await pgliteBackend.open();
    const adminToken = 'eat_pairing_log_test_secret';
    const server = await startServer({
      config: {
        ...loadConfig({}),
        port: 0,
        host: '127.0.0.1',
        secret: TEST_SECRET,
        demo: false,
        adminToken,
        logLevel: 'debug',
      },
      db: tdb.db,
      logger: createLogger('debug', sink),
    });
    const secrets: string[] = [adminToken, 'edt_'];
    try {
      const admin = new Client(server.url, adminToken);
      const ev = await seedEvent(admin);
      const made = await admin.post('/api/v1/devices/pairing-codes', { event_id: ev.eventId });
      secrets.push(made.body.code, made.body.code.replace('-', ''));
      const anon = new Client(server.url, null);
      // The scanner opens the pair URL (the app's page) before it redeems the code.
      await fetch(made.body.pair_url);
      const paired = await anon.post('/api/v1/devices/pair', {
        code: made.body.code.toLowerCase(),
        public_key: publicKey(),
      });
      expect(paired.status).toBe(201);
      expect((await anon.post('/api/v1/devices/pair', { code: made.body.code, public_key: publicKey() })).status).toBe(
        410,
      );
      await admin.post(`/api/v1/events/${ev.eventId}/staff`, { username: 'hanna', name: 'Hanna', pin: '739184620571' });
      secrets.push('739184620571', '618273645091');
      const device = new Client(server.url, paired.body.token);
      expect(
        (await device.post(`/api/v1/events/${ev.eventId}/login`, { username: 'hanna', pin: '739184620571' })).status,
      ).toBe(200);
      expect(
        (await device.post(`/api/v1/events/${ev.eventId}/login`, { username: 'hanna', pin: '618273645091' })).status,
      ).toBe(401);
    } finally {
      await server.close();
      await tdb.drop();
    }
    const log = lines.join('');
    expect(log).toContain('/api/v1/devices/pair');
    expect(log).toContain('"url":"/?pair=[redacted]"');
    expect(log).toContain('"statusCode":410');
    for (const secret of secrets) expect(log).not.toContain(secret);
  });
});
