import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Database } from '../src/db/database.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { LOGIN_DEVICE_FAILURES } from '../src/services/staff-service.ts';
import { describePostgres, freshPostgresDatabase, registerDevice, seedEvent, startTestServer, type Reply, type TestServer } from './harness.ts';

/**
 * PIN guesses from one device spread over several API instances (a load
 * balancer does that) get the same budget as on one instance: the limit is
 * counted from the login log every instance writes, not only in each
 * instance's memory.
 */
describePostgres('staff login limit across API instances', () => {
  let drop: () => Promise<void>;
  let dbs: Database[] = [];
  let servers: TestServer[] = [];

  beforeAll(async () => {
    const fresh = await freshPostgresDatabase();
    drop = fresh.drop;
    dbs = [openPostgres({ connectionString: fresh.url }), openPostgres({ connectionString: fresh.url })];
    const first = await startTestServer(dbs[0]!);
    servers = [first, await startTestServer(dbs[1]!, { adminToken: first.adminToken })];
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    for (const db of dbs) await db.close();
    await drop?.();
  });

  it(`turns the device away after ${LOGIN_DEVICE_FAILURES} failures in all, whichever instance saw them`, async () => {
    const [a, b] = servers as [TestServer, TestServer];
    const ev = await seedEvent(a.admin);
    expect((await a.admin.post(`/api/v1/events/${ev.eventId}/staff`, { username: 'hugo', name: 'Hugo', pin: '246810' })).status).toBe(201);
    const device = await registerDevice(a.admin, 'Gate phone');
    const login = (server: TestServer, pin: string): Promise<Reply> =>
      server.client(device.token).post(`/api/v1/events/${ev.eventId}/login`, { username: 'hugo', pin });

    // Alternating instances: each sees only about half of the failures in its own memory.
    for (let i = 0; i < LOGIN_DEVICE_FAILURES; i++) expect((await login(i % 2 === 0 ? a : b, `00000${i}`)).status).toBe(401);
    for (const server of [a, b]) {
      const blocked = await login(server, '246810');
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // Another device of the same event is not affected.
    const other = await registerDevice(a.admin, 'Other phone');
    expect((await b.client(other.token).post(`/api/v1/events/${ev.eventId}/login`, { username: 'hugo', pin: '246810' })).status).toBe(200);
  });
});
