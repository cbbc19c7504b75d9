import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Database } from '../src/db/database.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { PAIRING_FAILURE_LIMIT } from '../src/services/pairing-service.ts';
import { LOGIN_DEVICE_FAILURES, LOGIN_IP_FAILURES } from '../src/services/staff-service.ts';
import {
  Client,
  describePostgres,
  freshPostgresDatabase,
  registerDevice,
  seedEvent,
  startTestServer,
  type Reply,
  type TestServer,
} from './harness.ts';

/**
 * Guesses spread over several API instances (a load balancer does that) get
 * the same budget as on one instance: the limits on PIN logins (per device,
 * per address) and on pairing codes (per address) are counted from the logs
 * every instance writes, not only in each instance's memory.
 */
describePostgres('login-like limits across API instances', () => {
  let drop: () => Promise<void>;
  let dbs: Database[] = [];
  let servers: TestServer[] = [];

  beforeAll(async () => {
    const fresh = await freshPostgresDatabase();
    drop = fresh.drop;
    dbs = [openPostgres({ connectionString: fresh.url }), openPostgres({ connectionString: fresh.url })];
    // Over a socket: the limits are per client address.
    const first = await startTestServer(dbs[0]!, { http: true });
    servers = [first, await startTestServer(dbs[1]!, { adminToken: first.adminToken, http: true })];
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    for (const db of dbs) await db.close();
    await drop?.();
  });

  it(`turns the device away after ${LOGIN_DEVICE_FAILURES} failures in all, whichever instance saw them`, async () => {
    const [a, b] = servers as [TestServer, TestServer];
    const ev = await seedEvent(a.admin);
    expect(
      (await a.admin.post(`/api/v1/events/${ev.eventId}/staff`, { username: 'hugo', name: 'Hugo', pin: '246810' }))
        .status,
    ).toBe(201);
    const device = await registerDevice(a.admin, 'Gate phone');
    const login = (server: TestServer, pin: string): Promise<Reply> =>
      server.client(device.token).post(`/api/v1/events/${ev.eventId}/login`, { username: 'hugo', pin });

    // Alternating instances: each sees only about half of the failures in its own memory.
    for (let i = 0; i < LOGIN_DEVICE_FAILURES; i++)
      expect((await login(i % 2 === 0 ? a : b, `00000${i}`)).status).toBe(401);
    for (const server of [a, b]) {
      const blocked = await login(server, '246810');
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // Another device of the same event is not affected.
    const other = await registerDevice(a.admin, 'Other phone');
    expect(
      (await b.client(other.token).post(`/api/v1/events/${ev.eventId}/login`, { username: 'hugo', pin: '246810' }))
        .status,
    ).toBe(200);
  });

  it(`turns an address away after ${LOGIN_IP_FAILURES} failed logins in all, spread over devices and instances`, async () => {
    const [a, b] = servers as [TestServer, TestServer];
    const ev = await seedEvent(a.admin);
    expect(
      (await a.admin.post(`/api/v1/events/${ev.eventId}/staff`, { username: 'ines', name: 'Ines', pin: '135790' }))
        .status,
    ).toBe(201);
    const perDevice = LOGIN_DEVICE_FAILURES - 1;
    const devices = await Promise.all(
      Array.from({ length: Math.ceil(LOGIN_IP_FAILURES / perDevice) + 1 }, (_, i) =>
        registerDevice(a.admin, `Phone ${i}`),
      ),
    );
    let failures = 0;
    // Below each device's own limit, alternating instances: each instance sees about half of the address's failures.
    for (const device of devices.slice(0, -1)) {
      for (let i = 0; i < perDevice && failures < LOGIN_IP_FAILURES; i++, failures++) {
        const server = failures % 2 === 0 ? a : b;
        expect(
          (
            await server
              .client(device.token)
              .post(`/api/v1/events/${ev.eventId}/login`, { username: 'ines', pin: `99999${i}` })
          ).status,
        ).toBe(401);
      }
    }
    const fresh = devices.at(-1)!;
    for (const server of [a, b]) {
      const blocked = await server
        .client(fresh.token)
        .post(`/api/v1/events/${ev.eventId}/login`, { username: 'ines', pin: '135790' });
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    }
  });

  it(`turns an address away after ${PAIRING_FAILURE_LIMIT} failed pairing attempts in all, whichever instance saw them`, async () => {
    const [a, b] = servers as [TestServer, TestServer];
    const ev = await seedEvent(a.admin);
    const made = await a.admin.post('/api/v1/devices/pairing-codes', { event_id: ev.eventId, ttl_s: 3600 });
    expect(made.status).toBe(201);
    const pair = (server: TestServer, code: string): Promise<Reply> =>
      new Client(server.url, null).post('/api/v1/devices/pair', {
        code,
        public_key: generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!,
      });
    for (let i = 0; i < PAIRING_FAILURE_LIMIT; i++)
      expect((await pair(i % 2 === 0 ? a : b, `QQQQ-QQ${i}Q`)).status).toBe(404);
    for (const server of [a, b]) expect((await pair(server, made.body.code)).status).toBe(429);
  });
});
