/**
 * Set-up changes reach offline devices: after an organiser changes a rule on
 * the server, a device's next manifest download (a delta) carries it, and the
 * device decides by it offline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519, toBase64Url } from '@entrada/core';
import {
  issueTickets,
  pgliteBackend,
  registerDevice,
  seedEvent,
  startTestServer,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from '../../server/test/harness.ts';
import type { FetchLike } from '../src/http.ts';
import { Scanner } from '../src/scanner.ts';
import { MemoryStore, memoryBacking } from '../src/storage/memory-store.ts';

const realFetch: FetchLike = (url, init) => fetch(url, init);

describe('set-up changes reach offline scanners through the manifest delta', () => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;

  beforeAll(async () => {
    tdb = await pgliteBackend.open();
    server = await startTestServer(tdb.db);
    ev = await seedEvent(server.admin);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  async function makeScanner(seed: number): Promise<Scanner> {
    const keys = ed25519.generateKeyPair((n) => new Uint8Array(n).fill(seed));
    const device = await registerDevice(server.admin, `Scanner ${seed}`, { public_key: toBase64Url(keys.publicKey) });
    return new Scanner({
      store: new MemoryStore(memoryBacking()),
      baseUrl: server.url,
      eventId: ev.eventId,
      fetch: realFetch,
      device: {
        deviceId: device.deviceId,
        token: device.token,
        publicKey: keys.publicKey,
        sign: (m) => ed25519.sign(keys.secretKey, m),
      },
      random: () => 0.5,
      onlineBudgetMs: 1_500,
    });
  }

  it("decides by a gate's new zones after the next download", async () => {
    const scanner = await makeScanner(41);
    const [ga] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    await scanner.sync.syncNow();
    // GA is for the general zone; the VIP gate admits to VIP only.
    expect((await scanner.scanOffline(ga!.code, { gateId: ev.gates.vip, direction: 'entry' })).result).toBe(
      'wrong_gate',
    );
    const r = await server.admin.request('PATCH', `/api/v1/events/${ev.eventId}/gates/${ev.gates.vip}`, {
      zone_ids: [ev.zones.vip, ev.zones.general],
    });
    expect(r.status).toBe(200);
    await scanner.sync.syncNow();
    expect((await scanner.scanOffline(ga!.code, { gateId: ev.gates.vip, direction: 'entry' })).result).toBe('valid');
    scanner.stop();
  });

  it("decides by a ticket type's lower max_scans after the next download", async () => {
    const scanner = await makeScanner(42);
    const [multi] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.multi }]);
    await scanner.sync.syncNow();
    // 3-day: three entries; one used online by another device.
    const other = await registerDevice(server.admin, 'Online scanner');
    const online = await server
      .client(other.token)
      .post('/api/v1/scanning/scan', { code: multi!.code, event_id: ev.eventId, gate_id: ev.gates.main });
    expect(online.body.result).toBe('valid');
    const r = await server.admin.request('PATCH', `/api/v1/events/${ev.eventId}/ticket-types/${ev.types.multi}`, {
      max_scans: 1,
    });
    expect(r.status).toBe(200);
    await scanner.sync.syncNow();
    const offline = await scanner.scanOffline(multi!.code, { gateId: ev.gates.main, direction: 'entry' });
    expect(offline.result).not.toBe('valid');
    scanner.stop();
  });
});
