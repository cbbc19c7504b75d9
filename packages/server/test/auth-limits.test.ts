import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { ADDRESS_LOOKUP_LIMIT, CREDENTIAL_FAILURE_LIMIT } from '../src/services/auth.ts';
import { startServer, type RunningServer } from '../src/server.ts';
import {
  Client,
  describeEachBackend,
  pgliteBackend,
  registerDevice,
  startTestServer,
  TEST_SECRET,
  type Reply,
  type TestDatabase,
  type TestServer,
} from './harness.ts';

const guess = (prefix: 'eat_' | 'edt_'): string => prefix + randomBytes(32).toString('base64url');

function expectRetryAfter(r: Reply): void {
  expect(r.status).toBe(429);
  expect(r.body.error).toBe('RATE_LIMITED');
  const header = Number(r.headers.get('retry-after'));
  expect(Number.isInteger(header) && header >= 1 && header <= 60).toBe(true);
  expect(r.body.retry_after_s).toBe(header);
}

describeEachBackend('failed authentication limits', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;

  beforeAll(async () => {
    tdb = await backend.open();
    // Over a socket: the limits are per client address.
    server = await startTestServer(tdb.db, { http: true });
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  it('one bad client behind a venue NAT does not lock out the valid admin and device tokens of the same address', async () => {
    const device = await registerDevice(server.admin, 'Gate scanner');
    const scanner = server.client(device.token);
    // The valid tokens have been used from this address before the bad client starts…
    expect((await server.admin.get('/api/v1/events')).status).toBe(200);
    expect(
      (await scanner.get(`/api/v1/offline/manifest/${crypto.randomUUID()}?device_id=${device.deviceId}`)).status,
    ).toBe(404);
    const stale = server.client('eat_an_old_token_someone_pasted');
    const statuses: number[] = [];
    for (let i = 0; i < CREDENTIAL_FAILURE_LIMIT + 5; i++) statuses.push((await stale.get('/api/v1/events')).status);
    expect(statuses.slice(0, CREDENTIAL_FAILURE_LIMIT).every((s) => s === 401)).toBe(true);
    expectRetryAfter(await stale.get('/api/v1/events'));
    const staleDevice = server.client('edt_an_old_device_token');
    for (let i = 0; i < CREDENTIAL_FAILURE_LIMIT; i++)
      expect((await staleDevice.post('/api/v1/scanning/scan', { code: 'x' })).status).toBe(401);
    expectRetryAfter(await staleDevice.post('/api/v1/scanning/scan', { code: 'x' }));

    // …and keep working after it, as does a device the address never used before.
    expect((await server.admin.get('/api/v1/events')).status).toBe(200);
    expect(
      (await scanner.get(`/api/v1/offline/manifest/${crypto.randomUUID()}?device_id=${device.deviceId}`)).status,
    ).toBe(404);
    const newcomer = await registerDevice(server.admin, 'Second scanner');
    expect(
      (
        await server
          .client(newcomer.token)
          .get(`/api/v1/offline/manifest/${crypto.randomUUID()}?device_id=${newcomer.deviceId}`)
      ).status,
    ).toBe(404);
    // Another wrong token from the same address is judged on its own: 401, not the first one's 429.
    expect((await server.client(guess('eat_')).get('/api/v1/events')).status).toBe(401);
  });

  it('an address flooding unknown tokens gets no more database lookups for tokens this instance never saw valid, all with Retry-After', async () => {
    // A fresh instance on the same database: its counts and its known tokens start empty.
    const instance = await startTestServer(tdb.db, { adminToken: server.adminToken, http: true });
    try {
      const device = await registerDevice(instance.admin, 'Known scanner');
      const scanner = instance.client(device.token);
      expect((await instance.admin.get('/api/v1/events')).status).toBe(200);
      expect(
        (await scanner.get(`/api/v1/offline/manifest/${crypto.randomUUID()}?device_id=${device.deviceId}`)).status,
      ).toBe(404);
      const loggedBefore = await failuresLogged(tdb);
      for (let i = 0; i < ADDRESS_LOOKUP_LIMIT; i++)
        expect((await instance.client(guess(i % 2 ? 'eat_' : 'edt_')).get('/api/v1/events')).status).toBe(401);
      expectRetryAfter(await instance.client(guess('eat_')).get('/api/v1/events'));
      expectRetryAfter(await instance.client(guess('edt_')).post('/api/v1/scanning/scan', { code: 'x' }));
      // Tokens this instance has seen valid are still looked up, and accepted.
      expect((await instance.admin.get('/api/v1/events')).status).toBe(200);
      expect(
        (await scanner.get(`/api/v1/offline/manifest/${crypto.randomUUID()}?device_id=${device.deviceId}`)).status,
      ).toBe(404);
      // The log records the first failures of the minute, not the flood.
      expect((await failuresLogged(tdb)) - loggedBefore).toBe(30);
    } finally {
      await instance.close();
    }
  });
});

async function failuresLogged(tdb: TestDatabase): Promise<number> {
  // The log is written after the answer: let the last inserts land.
  await new Promise((r) => setTimeout(r, 200));
  const [row] = await tdb.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM login_logs WHERE NOT success AND identifier IN ('admin-token', 'device-token')`,
  );
  return row!.n;
}

describe('client addresses behind a reverse proxy (ENTRADA_TRUST_PROXY)', () => {
  let tdb: TestDatabase;
  const adminToken = `eat_test_${randomBytes(8).toString('hex')}`;
  const start = async (trust: string | undefined): Promise<RunningServer> =>
    startServer({
      config: {
        ...loadConfig(trust === undefined ? {} : { ENTRADA_TRUST_PROXY: trust }),
        port: 0,
        host: '127.0.0.1',
        secret: TEST_SECRET,
        demo: false,
        adminToken,
      },
      db: tdb.db,
      logger: false,
    });
  const from = (server: RunningServer, token: string, address: string) =>
    new Client(server.url, token).request('GET', '/api/v1/events', undefined, { 'x-forwarded-for': address });

  beforeAll(async () => {
    tdb = await pgliteBackend.open();
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  it('counts failures by the forwarded client address when the proxy is trusted', async () => {
    const server = await start('127.0.0.1');
    try {
      for (let i = 0; i < CREDENTIAL_FAILURE_LIMIT; i++)
        expect((await from(server, 'eat_stale', '203.0.113.7')).status).toBe(401);
      expectRetryAfter(await from(server, 'eat_stale', '203.0.113.7'));
      // The same wrong token from another client behind the proxy is counted apart.
      expect((await from(server, 'eat_stale', '203.0.113.8')).status).toBe(401);
      expect((await from(server, adminToken, '203.0.113.7')).status).toBe(200);
      const logged = await tdb.db.query<{ ip_address: string }>(
        `SELECT DISTINCT ip_address FROM login_logs WHERE identifier = 'admin-token' ORDER BY 1`,
      );
      expect(logged.map((r) => r.ip_address)).toEqual(['203.0.113.7', '203.0.113.8']);
    } finally {
      await server.close();
    }
  });

  it('ignores X-Forwarded-For by default: a client cannot pick its own address', async () => {
    const server = await start(undefined);
    try {
      for (let i = 0; i < CREDENTIAL_FAILURE_LIMIT; i++)
        expect((await from(server, 'eat_stale_2', `198.51.100.${i}`)).status).toBe(401);
      expectRetryAfter(await from(server, 'eat_stale_2', '198.51.100.200'));
    } finally {
      await server.close();
    }
  });
});
