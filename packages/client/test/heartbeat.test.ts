import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519, toBase64Url } from '@entrada/core';
import {
  eventually,
  pgliteBackend,
  registerDevice,
  seedEvent,
  startTestServer,
  type TestDatabase,
  type TestServer,
} from '../../server/test/harness.ts';
import type { FetchLike } from '../src/http.ts';
import { recordScan } from '../src/outbox.ts';
import { Scanner } from '../src/scanner.ts';
import { MemoryStore } from '../src/storage/memory-store.ts';
import { ManualClock } from './manual-clock.ts';

const EVENT = '00000000-0000-4000-8000-000000000000';
const GATE = '00000000-0000-4000-8000-0000000000aa';
const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
};

describe('heartbeats on an injected clock', () => {
  it("sends one with each sync and every 30 s while online, none while offline, with the device's own state", async () => {
    const clock = new ManualClock(1_000_000);
    let network = true;
    const beats: Array<{ at: number; body: Record<string, unknown> }> = [];
    const syncs: number[] = [];
    const fake: FetchLike = async (url, init) => {
      if (!network) throw new TypeError('fetch failed');
      // The connectivity monitor's probe is not a sync: answered, not counted.
      if (url.endsWith('/api/health'))
        return { status: 200, headers: { get: () => null }, text: async () => '{"status":"ok"}' };
      if (url.endsWith('/api/v1/devices/heartbeat')) {
        beats.push({ at: clock.now(), body: JSON.parse(init.body!) as Record<string, unknown> });
        return { status: 200, headers: { get: () => null }, text: async () => '{}' };
      }
      syncs.push(clock.now());
      // A refusal: the network works, the next sync waits for the manifest interval (120 s).
      return { status: 401, headers: { get: () => null }, text: async () => '{"message":"no"}' };
    };
    const store = new MemoryStore();
    const scanner = new Scanner({
      store,
      baseUrl: 'http://entrada.invalid',
      eventId: EVENT,
      fetch: fake,
      clock,
      random: () => 0.5,
      device: { deviceId: 'dev-1', token: 'edt_x' },
      newId: () => '00000000-0000-4000-8000-000000000001',
      heartbeat: {
        appVersion: 'test 1.0',
        context: () => ({ gateId: GATE, staffId: null, battery: { level: 0.5, charging: false } }),
      },
    });
    await recordScan(store, EVENT, 'dev-1', {
      qrcode: 'X',
      scannedAt: 999_000,
      direction: 'entry',
      gateId: GATE,
      localResult: 'valid',
      localReason: null,
      ticketId: null,
      scanId: null,
    });
    await scanner.start();
    clock.advance(0);
    await settle();
    expect(syncs).toEqual([1_000_000]);
    expect(beats.map((b) => b.at)).toEqual([1_000_000]); // with the sync
    expect(beats[0]!.body).toMatchObject({
      event_id: EVENT,
      device_time: 1_000_000,
      app_version: 'test 1.0',
      pending_scans: 1,
      oldest_pending_at: 999_000,
      gate_id: GATE,
      staff_id: null,
      battery: { level: 0.5, charging: false },
      sync_failures: 0,
      online_since: 1_000_000,
      manifest_cursor: null,
    });
    for (let i = 0; i < 4; i++) {
      clock.advance(30_000);
      await settle();
    }
    // Every 30 s; the sync at +120 s sends one and restarts the interval (no second one at the same moment).
    expect(syncs).toEqual([1_000_000, 1_120_000]);
    expect(beats.map((b) => b.at - 1_000_000)).toEqual([0, 30_000, 60_000, 90_000, 120_000]);

    // The network goes: the next sync finds out, and no heartbeat is tried while offline.
    network = false;
    clock.advance(120_000);
    await settle();
    expect((await scanner.status()).online).toBe(false);
    const before = beats.length;
    for (let i = 0; i < 3; i++) {
      clock.advance(30_000);
      await settle();
    }
    expect(beats.length).toBe(before);

    // Back: it reports how long it was offline and the failures in a row it saw.
    network = true;
    const failures = (await scanner.status()).lastError !== null;
    expect(failures).toBe(true);
    await scanner.sync.onOnline();
    await settle();
    const last = beats.at(-1)!;
    expect(last.at).toBe(clock.now());
    expect(last.body).toMatchObject({ online_since: clock.now(), last_offline_ms: clock.now() - 1_240_000 });
    scanner.stop();
    clock.advance(300_000);
    await settle();
    expect(beats.at(-1)).toBe(last); // stopped: no more
  });

  it('sends none when the platform says there is no network, and none without the option', async () => {
    const clock = new ManualClock(1_000_000);
    const paths: string[] = [];
    const fake: FetchLike = async (url) => {
      paths.push(new URL(url).pathname);
      return { status: 401, headers: { get: () => null }, text: async () => '{}' };
    };
    const down = new Scanner({
      store: new MemoryStore(),
      baseUrl: 'http://entrada.invalid',
      eventId: EVENT,
      fetch: fake,
      clock,
      random: () => 0.5,
      device: { deviceId: 'dev-1', token: 'edt_x' },
      networkDown: () => true,
      heartbeat: { appVersion: 't' },
    });
    const off = new Scanner({
      store: new MemoryStore(),
      baseUrl: 'http://entrada.invalid',
      eventId: EVENT,
      fetch: fake,
      clock,
      random: () => 0.5,
      device: { deviceId: 'dev-2', token: 'edt_y' },
    });
    await down.start();
    await off.start();
    for (let i = 0; i < 5; i++) {
      clock.advance(30_000);
      await settle();
    }
    expect(paths.filter((p) => p.endsWith('/heartbeat'))).toEqual([]);
    down.stop();
    off.stop();
  });
});

describe('heartbeats against the real server', () => {
  let tdb: TestDatabase;
  let server: TestServer;
  beforeAll(async () => {
    tdb = await pgliteBackend.open();
    server = await startTestServer(tdb.db, { config: { alertIntervalMs: 0 } });
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  it('the fleet table shows the scanner online with its pending count after a sync', async () => {
    const ev = await seedEvent(server.admin);
    const keys = ed25519.generateKeyPair((n) => new Uint8Array(n).fill(9));
    const d = await registerDevice(server.admin, 'Heartbeat scanner', {
      public_key: toBase64Url(keys.publicKey),
      event_ids: [ev.eventId],
    });
    const store = new MemoryStore();
    const scanner = new Scanner({
      store,
      baseUrl: server.url,
      eventId: ev.eventId,
      fetch: (url, init) => fetch(url, init),
      device: {
        deviceId: d.deviceId,
        token: d.token,
        publicKey: keys.publicKey,
        sign: (m) => ed25519.sign(keys.secretKey, m),
      },
      heartbeat: {
        appVersion: 'client-test',
        context: () => ({ gateId: ev.gates.main, battery: { level: 0.33, charging: true } }),
      },
    });
    await scanner.start();
    await eventually(async () => {
      const r = await server.admin.get(`/api/v1/events/${ev.eventId}/devices/health`);
      expect(r.body.devices).toMatchObject([
        {
          device_id: d.deviceId,
          online: true,
          pending_scans: 0,
          app_version: 'client-test',
          gate: { name: 'Main' },
          battery: { level: 0.33 },
        },
      ]);
    });
    scanner.stop();
  });
});
