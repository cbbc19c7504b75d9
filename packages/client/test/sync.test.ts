import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ed25519, toBase64Url } from '@entrada/core';
import {
  eventually,
  issueTickets,
  pgliteBackend,
  registerDevice,
  seedEvent,
  startTestServer,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from '../../server/test/harness.ts';
import { ConcurrencyLimit } from '../../server/src/http/concurrency-limit.ts';
import { ApiClient, type FetchLike } from '../src/http.ts';
import type { ManifestDocument, ManifestHeader } from '../src/manifest-types.ts';
import { Scanner } from '../src/scanner.ts';
import { MemoryStore, memoryBacking, type MemoryBacking } from '../src/storage/memory-store.ts';
import { recordScan } from '../src/outbox.ts';
import { manifestTimeoutMs, retryDelay, SyncLoop } from '../src/sync-loop.ts';
import { ApiError } from '../src/http.ts';
import { ManualClock } from './manual-clock.ts';

const realFetch: FetchLike = (url, init) => fetch(url, init);

describe('sync loop and scanner against the real server', () => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  const closedPort = 'http://127.0.0.1:9';

  beforeAll(async () => {
    tdb = await pgliteBackend.open();
    server = await startTestServer(tdb.db);
    ev = await seedEvent(server.admin);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  let seed = 1;
  async function makeScanner(
    opts: {
      backing?: MemoryBacking;
      fetch?: FetchLike;
      baseUrl?: string;
      name?: string;
      keepAcknowledged?: number;
      networkDown?: () => boolean;
      staffId?: () => string | null;
      device?: { deviceId: string; token: string; keys: ReturnType<typeof ed25519.generateKeyPair> };
    } = {},
  ) {
    let device = opts.device;
    if (!device) {
      const keys = ed25519.generateKeyPair((n) => new Uint8Array(n).fill(seed++));
      const d = await registerDevice(server.admin, opts.name ?? `Scanner ${seed}`, {
        public_key: toBase64Url(keys.publicKey),
      });
      device = { ...d, keys };
    }
    const backing = opts.backing ?? memoryBacking();
    const scanner = new Scanner({
      store: new MemoryStore(backing),
      baseUrl: opts.baseUrl ?? server.url,
      eventId: ev.eventId,
      fetch: opts.fetch ?? realFetch,
      device: {
        deviceId: device.deviceId,
        token: device.token,
        publicKey: device.keys.publicKey,
        sign: (m) => ed25519.sign(device.keys.secretKey, m),
      },
      random: () => 0.5,
      onlineBudgetMs: 1_500,
      ...(opts.keepAcknowledged !== undefined ? { keepAcknowledged: opts.keepAcknowledged } : {}),
      networkDown: opts.networkDown,
      ...(opts.staffId ? { staffId: opts.staffId } : {}),
    });
    return { scanner, backing, device };
  }

  it('takes a gate added after the first download from the next delta, and applies deltas without reading every ticket back', async () => {
    const { scanner, backing } = await makeScanner();
    await scanner.sync.syncNow();
    const gate = await server.admin.post(`/api/v1/events/${ev.eventId}/gates`, {
      name: 'South Gate',
      zone_ids: [ev.zones.general],
    });
    expect(gate.status).toBe(201);
    const [fresh] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.vip }]);
    const store = new MemoryStore(backing);
    const reload = vi.spyOn(scanner, 'reloadManifest');
    await eventually(async () => {
      await scanner.sync.syncNow();
      const h = await store.loadManifestHeader(ev.eventId);
      expect(h?.header.gates.map((g) => g.name)).toContain('South Gate');
      const wrong = await scanner.scanOffline(fresh!.code, { gateId: ev.gates.vip, direction: 'entry' });
      expect(wrong.result).toBe('valid');
    });
    expect(reload).not.toHaveBeenCalled();
    scanner.stop();
  });

  it('sends nothing while the platform says the network is down, and catches up when it is back', async () => {
    const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    let down = false;
    let requests = 0;
    const counting: FetchLike = (url, init) => {
      requests++;
      return realFetch(url, init);
    };
    const { scanner } = await makeScanner({ fetch: counting, networkDown: () => down });
    await scanner.sync.syncNow();
    down = true;
    const before = requests;
    const r = await scanner.scan(t!.code, { gateId: ev.gates.main, direction: 'entry' });
    expect(r).toMatchObject({ source: 'offline', result: 'valid' });
    await scanner.sync.syncNow();
    expect(requests).toBe(before);
    expect(await scanner.status()).toMatchObject({ online: false, pending: 1 });
    down = false;
    await scanner.sync.onOnline();
    expect(await scanner.status()).toMatchObject({ online: true, pending: 0 });
    scanner.stop();
  });

  it('records the staff member logged in on the device with every scan, online and offline (issue 13)', async () => {
    const staff = (
      await server.admin.post(`/api/v1/events/${ev.eventId}/staff`, {
        username: `gatekeeper${seed}`,
        name: 'Gatekeeper',
        pin: '4711',
      })
    ).body.id as string;
    const [a, b] = await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
    ]);
    let down = false;
    const { scanner, backing, device } = await makeScanner({ networkDown: () => down, staffId: () => staff });
    await scanner.sync.syncNow();
    expect(await scanner.scan(a!.code, { gateId: ev.gates.main, direction: 'entry' })).toMatchObject({
      source: 'online',
      result: 'valid',
    });
    down = true;
    expect(await scanner.scan(b!.code, { gateId: ev.gates.main, direction: 'entry' })).toMatchObject({
      source: 'offline',
      result: 'valid',
    });
    // The outbox holds who scanned, so the upload carries it.
    expect((await new MemoryStore(backing).all(ev.eventId)).map((s) => s.staffId)).toEqual([staff]);
    down = false;
    await scanner.sync.syncNow();
    const rows = await tdb.db.query<{ source: string; staff_id: string | null }>(
      `SELECT source, staff_id FROM scans WHERE device_id = $1 ORDER BY source`,
      [device.deviceId],
    );
    expect(rows).toEqual([
      { source: 'offline', staff_id: staff },
      { source: 'online', staff_id: staff },
    ]);
    scanner.stop();
  });

  it('keeps acknowledged scans up to its storage limit after a sync, pending ones always', async () => {
    const issued = await issueTickets(
      server.admin,
      ev.eventId,
      Array.from({ length: 6 }, () => ({ ticket_type_id: ev.types.ga })),
    );
    const { scanner, backing } = await makeScanner({ keepAcknowledged: 2 });
    await scanner.sync.syncNow();
    for (const t of issued) await scanner.scanOffline(t.code, { gateId: ev.gates.main, direction: 'entry' });
    await scanner.sync.syncNow();
    const kept = new MemoryStore(backing);
    expect((await kept.all(ev.eventId)).map((s) => s.seq)).toEqual([5, 6]);
    expect(await kept.counts(ev.eventId)).toMatchObject({ pending: 0, lastSeq: 6 });
    scanner.stop();
  });

  it('downloads the manifest, decides offline, uploads the signed chain and gets it acknowledged; a re-upload is idempotent', async () => {
    const [a, b] = await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga, code: 'IMPORTED-A-1' },
    ]);
    const { scanner, backing, device } = await makeScanner();
    await scanner.sync.syncNow();
    expect(scanner.hasManifest).toBe(true);

    const first = await scanner.scanOffline(a!.code, { gateId: ev.gates.main, direction: 'entry' });
    expect(first).toMatchObject({ source: 'offline', result: 'valid', reason: 'admitted', seq: 1, stale: false });
    const again = await scanner.scanOffline(a!.code, { gateId: ev.gates.any, direction: 'entry' });
    expect(again).toMatchObject({ result: 'duplicate', reason: 'double_read', seq: 2 });
    expect(await scanner.scanOffline('IMPORTED-A-1', { gateId: ev.gates.main, direction: 'entry' })).toMatchObject({
      result: 'valid',
      seq: 3,
      ticket: { id: b!.id },
    });
    expect(await scanner.scanOffline('nobody', { gateId: ev.gates.main, direction: 'entry' })).toMatchObject({
      result: 'invalid_token',
      reason: 'unknown_code',
    });
    expect((await scanner.status()).pending).toBe(4);

    await scanner.sync.syncNow();
    const st = await scanner.status();
    expect(st).toMatchObject({ pending: 0, ackedThrough: 4, missing: [], online: true, lastError: null });
    const view = await server.admin.get(`/api/v1/tickets/${a!.id}`);
    expect(view.body).toMatchObject({ scans_used: 1, inside: true });
    const all = await new MemoryStore(backing).all(ev.eventId);
    expect(all.every((s) => s.synced)).toBe(true);
    expect(all[0]!.server).toMatchObject({ syncStatus: 'synced' });

    // The same log on a "restored" device that lost its acknowledgements: uploading again changes nothing.
    const copy: MemoryBacking = structuredClone(backing);
    copy.outbox.set(
      ev.eventId,
      copy.outbox.get(ev.eventId)!.map((s) => ({ ...s, synced: false, server: undefined })),
    );
    const twin = await makeScanner({ backing: copy, device });
    await twin.scanner.sync.syncNow();
    const twinLog = await new MemoryStore(copy).all(ev.eventId);
    expect(twinLog.map((s) => s.server?.syncStatus)).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate']);
    expect((await server.admin.get(`/api/v1/tickets/${a!.id}`)).body).toMatchObject({ scans_used: 1 });

    const exported = await scanner.exportLog();
    expect(exported).toMatchObject({ format: 'entrada/device-log/v1', device_id: device.deviceId });
    expect(exported.scans).toHaveLength(4);
    expect(exported.integrity?.head_signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
  });

  it('a device far behind takes ticket states from its manifest and reads only its double entries from the feed', async () => {
    const issued = await issueTickets(
      server.admin,
      ev.eventId,
      Array.from({ length: 30 }, () => ({ ticket_type_id: ev.types.ga })),
    );
    const requests: string[] = [];
    const counting: FetchLike = (url, init) => {
      requests.push(new URL(url).pathname + new URL(url).search);
      return realFetch(url, init);
    };
    const winner = await makeScanner({ fetch: counting, name: 'Double entry winner' });
    const other = await makeScanner({ name: 'Double entry loser' });
    await winner.scanner.sync.syncNow();
    await other.scanner.sync.syncNow();
    // Both offline: the winner admits ticket 0 first, the other device admits it later, and 29 more tickets.
    expect(
      await winner.scanner.scanOffline(issued[0]!.code, { gateId: ev.gates.main, direction: 'entry' }),
    ).toMatchObject({ result: 'valid' });
    for (const t of issued)
      expect(await other.scanner.scanOffline(t.code, { gateId: ev.gates.main, direction: 'entry' })).toMatchObject({
        result: 'valid',
      });
    await winner.scanner.sync.syncNow();
    await other.scanner.sync.syncNow();
    expect((await other.scanner.status()).conflicts).toEqual([expect.objectContaining({ reason: 'already_used' })]);

    requests.length = 0;
    await eventually(async () => {
      await winner.scanner.sync.syncNow();
      const st = await winner.scanner.status();
      expect(st.doubleEntries).toEqual([
        expect.objectContaining({ ticketId: issued[0]!.id, deviceId: other.device.deviceId, reason: 'already_used' }),
      ]);
    });
    // Every ticket the other device admitted is known to the winner, from the manifest delta alone.
    const store = new MemoryStore(winner.backing);
    const manifest = await store.loadManifest(ev.eventId);
    for (const t of issued) expect(manifest?.tickets.get(t.id)).toMatchObject({ current_scans: 1, inside: true });
    const feed = requests.filter((r) => r.startsWith('/api/v1/offline/events'));
    expect(feed.length).toBeGreaterThan(0);
    expect(feed.every((r) => r.includes('only=double_entries'))).toBe(true);
    winner.scanner.stop();
    other.scanner.stop();
  });

  it('halves the batch on 413 until the server takes it', async () => {
    const tickets = await issueTickets(
      server.admin,
      ev.eventId,
      Array.from({ length: 7 }, () => ({ ticket_type_id: ev.types.ga })),
    );
    const sizes: number[] = [];
    const limited: FetchLike = async (url, init) => {
      if (url.endsWith('/api/v1/offline/sync')) {
        const n = (JSON.parse(init.body!) as { scans: unknown[] }).scans.length;
        sizes.push(n);
        if (n > 2) return { status: 413, headers: { get: () => null }, text: async () => '{"message":"too large"}' };
      }
      return realFetch(url, init);
    };
    const { scanner } = await makeScanner({ fetch: limited });
    await scanner.sync.syncNow();
    for (const t of tickets) await scanner.scanOffline(t.code, { gateId: ev.gates.main, direction: 'entry' });
    await scanner.sync.syncNow();
    const st = await scanner.status();
    expect(st).toMatchObject({ pending: 0, ackedThrough: 7, batchSize: 2, lastError: null });
    // Halving from the run's size: 7 (413), 3 (413), 1; then doubling back, capped below the smallest refused size (3).
    expect(sizes).toEqual([7, 3, 1, 2, 2, 2]);
  });

  it('scans online first, falls back offline when the server is unreachable, and recovers', async () => {
    const [a, b, c] = await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
    ]);
    let down = false;
    // A real connection refused (closed port) while "down", the real server otherwise.
    const switchable: FetchLike = (url, init) => realFetch(down ? url.replace(server.url, closedPort) : url, init);
    const { scanner } = await makeScanner({ fetch: switchable });
    await scanner.start();
    await scanner.sync.syncNow();
    const online = await scanner.scan(a!.code, { gateId: ev.gates.main, direction: 'entry' });
    expect(online).toMatchObject({ source: 'online', result: 'valid', reason: 'admitted', seq: null });

    down = true;
    const offline = await scanner.scan(b!.code, { gateId: ev.gates.main, direction: 'entry' });
    expect(offline).toMatchObject({ source: 'offline', result: 'valid', seq: 1 });
    expect(scanner.isOnline).toBe(false);
    // Known locally although the manifest predates it: the online admission a moment ago.
    const repeat = await scanner.scan(a!.code, { gateId: ev.gates.main, direction: 'entry' });
    expect(repeat).toMatchObject({ source: 'offline', result: 'duplicate' });

    down = false;
    await scanner.sync.syncNow();
    expect(scanner.isOnline).toBe(true);
    const back = await scanner.scan(c!.code, { gateId: ev.gates.main, direction: 'entry' });
    expect(back).toMatchObject({ source: 'online', result: 'valid' });
    const st = await scanner.status();
    expect(st).toMatchObject({ pending: 0, ackedThrough: 2 });
    scanner.stop();
  });

  it('falls back to the local decision when the server does not answer within the budget', async () => {
    const [a] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    let hang = false;
    const slow: FetchLike = (url, init) =>
      hang && url.endsWith('/scanning/scan') ? new Promise(() => undefined) : realFetch(url, init);
    const { scanner } = await makeScanner({ fetch: slow });
    await scanner.sync.syncNow();
    hang = true;
    const started = Date.now();
    const r = await scanner.scan(a!.code, { gateId: ev.gates.main, direction: 'entry' });
    expect(r).toMatchObject({ source: 'offline', result: 'valid', seq: 1 });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('a scan the server received while the device timed out is acknowledged, not admitted twice nor raised as a conflict', async () => {
    const [a] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    // The request reaches the server, which commits it; the answer is lost (it never comes back within the budget).
    let dropAnswer = false;
    const lossy: FetchLike = (url, init) => {
      if (dropAnswer && url.endsWith('/scanning/scan')) {
        void realFetch(url, init);
        return new Promise(() => undefined);
      }
      return realFetch(url, init);
    };
    const { scanner } = await makeScanner({ fetch: lossy });
    await scanner.sync.syncNow();
    dropAnswer = true;
    const r = await scanner.scan(a!.code, { gateId: ev.gates.main, direction: 'entry' });
    expect(r).toMatchObject({ source: 'offline', result: 'valid', seq: 1 });
    dropAnswer = false;
    await scanner.sync.syncNow();
    expect(await scanner.status()).toMatchObject({ pending: 0, ackedThrough: 1 });
    const view = (await server.admin.get(`/api/v1/tickets/${a!.id}`)).body;
    expect(view.scans_used).toBe(1);
    // One physical scan, one row: the offline copy took its place in the online row.
    expect(view.scans.map((x: { source: string }) => x.source)).toEqual(['online']);
    const conflicts = (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts`)).body.conflicts.filter(
      (c: { ticket: { id: string } }) => c.ticket.id === a!.id,
    );
    expect(conflicts).toEqual([]);
    scanner.stop();
  });
});

describe('a device is never stuck behind one bad scan, and learns every double entry (issue #10)', () => {
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

  let seed = 100;
  async function makeScanner(name: string) {
    const keys = ed25519.generateKeyPair((n) => new Uint8Array(n).fill(seed++));
    const device = await registerDevice(server.admin, name, { public_key: toBase64Url(keys.publicKey) });
    const backing = memoryBacking();
    const scanner = new Scanner({
      store: new MemoryStore(backing),
      baseUrl: server.url,
      eventId: ev.eventId,
      fetch: realFetch,
      random: () => 0.5,
      device: {
        deviceId: device.deviceId,
        token: device.token,
        publicKey: keys.publicKey,
        sign: (m) => ed25519.sign(keys.secretKey, m),
      },
    });
    await scanner.sync.syncNow();
    return { scanner, backing, device };
  }
  const deviceStatus = async (deviceId: string) =>
    (await server.admin.get(`/api/v1/offline/sync/status/${ev.eventId}/${deviceId}`)).body;

  it('sets aside a scan the server refuses by name (a code longer than it takes), shows it, and syncs the scans after it', async () => {
    const [a, b, c] = await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
    ]);
    const { scanner, backing, device } = await makeScanner('Reads a very long code');
    const huge = `X${'9'.repeat(5_000)}`;
    await scanner.scanOffline(a!.code, { gateId: ev.gates.main, direction: 'entry' });
    await scanner.scanOffline(huge, { gateId: ev.gates.main, direction: 'entry' });
    await scanner.scanOffline(b!.code, { gateId: ev.gates.main, direction: 'entry' });
    await scanner.sync.syncNow();
    const st = await scanner.status();
    expect(st).toMatchObject({ pending: 0, lastError: null, ackedThrough: 1, missing: [[2, 2]] });
    expect(st.refused).toEqual([
      expect.objectContaining({ seq: 2, qrcode: huge, message: expect.stringMatching(/^\/scans\/1\/qrcode/) }),
    ]);
    expect(st.lastSummary).toMatchObject({ refused: 1 });
    // Kept in the device's log with the server's refusal, not sent again.
    const kept = (await new MemoryStore(backing).all(ev.eventId)).find((sc) => sc.seq === 2);
    expect(kept).toMatchObject({ qrcode: huge, synced: true, server: { syncStatus: 'failed', reason: 'refused' } });
    // On the server: the scans before and after it, and the gap for the organisers.
    expect((await server.admin.get(`/api/v1/tickets/${b!.id}`)).body.scans_used).toBe(1);
    expect(await deviceStatus(device.deviceId)).toMatchObject({ acked_through: 1, last_seq: 3, missing: [[2, 2]] });
    // And the device goes on.
    await scanner.scanOffline(c!.code, { gateId: ev.gates.main, direction: 'entry' });
    await scanner.sync.syncNow();
    expect(await scanner.status()).toMatchObject({ pending: 0, lastError: null });
    expect((await server.admin.get(`/api/v1/tickets/${c!.id}`)).body.scans_used).toBe(1);
    scanner.stop();
  });

  it('two scans of its log sharing a scan_id (a device bug) are both synced, not retried forever', async () => {
    const [a, b] = await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
    ]);
    const { scanner, backing, device } = await makeScanner('Repeats an id');
    const store = new MemoryStore(backing);
    const scanId = crypto.randomUUID();
    for (const t of [a!, b!]) {
      await recordScan(store, ev.eventId, device.deviceId, {
        qrcode: t.code,
        scannedAt: Date.now(),
        direction: 'entry',
        gateId: ev.gates.main,
        localResult: 'valid',
        localReason: 'admitted',
        ticketId: t.id,
        scanId,
      });
    }
    await scanner.sync.syncNow();
    expect(await scanner.status()).toMatchObject({ pending: 0, lastError: null, ackedThrough: 2 });
    expect((await server.admin.get(`/api/v1/tickets/${b!.id}`)).body.scans_used).toBe(1);
    scanner.stop();
  });

  it('learns that a scan it uploaded as admitted lost when an earlier scan arrived later; the devices together report every double entry', async () => {
    const ts = await issueTickets(
      server.admin,
      ev.eventId,
      Array.from({ length: 5 }, () => ({ ticket_type_id: ev.types.ga })),
    );
    const a = await makeScanner('Uploads first');
    const b = await makeScanner('Uploads later');
    // Offline, both: B admits tickets 0-2 first, A all five, then B tickets 3-4.
    for (const t of ts.slice(0, 3))
      expect(await b.scanner.scanOffline(t.code, { gateId: ev.gates.main, direction: 'entry' })).toMatchObject({
        result: 'valid',
      });
    await new Promise((r) => setTimeout(r, 5));
    for (const t of ts)
      expect(await a.scanner.scanOffline(t.code, { gateId: ev.gates.main, direction: 'entry' })).toMatchObject({
        result: 'valid',
      });
    await new Promise((r) => setTimeout(r, 5));
    for (const t of ts.slice(3))
      expect(await b.scanner.scanOffline(t.code, { gateId: ev.gates.main, direction: 'entry' })).toMatchObject({
        result: 'valid',
      });
    await a.scanner.sync.syncNow();
    expect((await a.scanner.status()).conflicts).toEqual([]);
    await b.scanner.sync.syncNow();
    // B heard of its two losing scans in its upload's answer; A's three lost after it was answered.
    expect((await b.scanner.status()).conflicts.map((c) => c.seq).sort()).toEqual([4, 5]);
    const late = await eventually(async () => {
      await a.scanner.sync.syncNow();
      const st = await a.scanner.status();
      expect(st.conflicts.map((c) => c.seq).sort()).toEqual([1, 2, 3]);
      return st;
    });
    expect(late.conflicts[0]).toMatchObject({ reason: 'already_used', qrcode: expect.stringMatching(/^EN/) });
    expect(late.conflicts[0]!.message).toMatch(/another device admitted this ticket earlier/);
    // The scans in A's log carry the verdict of record now.
    expect((await new MemoryStore(a.backing).all(ev.eventId)).slice(0, 3).map((sc) => sc.server?.syncStatus)).toEqual([
      'conflict',
      'conflict',
      'conflict',
    ]);
    // The totals across devices equal the double entries: the organisers' inbox, and each device's server status.
    const inbox = (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts`)).body.conflicts.filter(
      (c: { ticket: { id: string } }) => ts.some((t) => t.id === c.ticket.id),
    );
    const learned = (await a.scanner.status()).conflicts.length + (await b.scanner.status()).conflicts.length;
    expect(learned).toBe(inbox.length);
    expect(inbox).toHaveLength(5);
    expect((await deviceStatus(a.device.deviceId)).conflicts + (await deviceStatus(b.device.deviceId)).conflicts).toBe(
      5,
    );
    // A later cycle does not count them again.
    await a.scanner.sync.syncNow();
    expect((await a.scanner.status()).conflicts).toHaveLength(3);
    a.scanner.stop();
    b.scanner.stop();
  });
});

describe('retry and backoff with an injected clock', () => {
  it('uses full jitter, honours Retry-After, and does not retry refusals', () => {
    const policy = { baseMs: 1_000, capMs: 60_000 };
    expect(retryDelay(new ApiError('network', 'down'), 0, () => 0.5, policy)).toBe(500);
    expect(retryDelay(new ApiError('timeout', 'slow'), 3, () => 0.5, policy)).toBe(4_000);
    expect(retryDelay(new ApiError('network', 'down'), 20, () => 0.999, policy)).toBe(59_940);
    expect(retryDelay(new ApiError('http', 'busy', 429, 7_000), 0, () => 0.5, policy)).toBe(7_000);
    expect(retryDelay(new ApiError('http', 'oops', 503), 1, () => 0.5, policy)).toBe(1_000);
    for (const s of [400, 401, 403]) expect(retryDelay(new ApiError('http', 'no', s), 0, () => 0.5, policy)).toBeNull();
  });

  it('schedules retries on the clock: 429 Retry-After, then growing backoff, then success resets', async () => {
    const clock = new ManualClock(1_000_000);
    const answers: Array<() => Awaited<ReturnType<FetchLike>>> = [
      () => ({ status: 429, headers: { get: (h) => (h === 'retry-after' ? '7' : null) }, text: async () => '{}' }),
      () => {
        throw new TypeError('fetch failed');
      },
      () => ({ status: 503, headers: { get: () => null }, text: async () => '{}' }),
    ];
    const calls: number[] = [];
    const fake: FetchLike = async () => {
      calls.push(clock.now());
      const next = answers.shift();
      if (next) return next();
      return { status: 401, headers: { get: () => null }, text: async () => '{"message":"revoked"}' };
    };
    const scanner = new Scanner({
      store: new MemoryStore(),
      baseUrl: 'http://entrada.invalid',
      eventId: '00000000-0000-4000-8000-000000000000',
      fetch: fake,
      clock,
      random: () => 0.5,
      device: { deviceId: 'dev-1', token: 'edt_x' },
      newId: () => '00000000-0000-4000-8000-000000000001',
      // Counts the sync loop's requests alone (the health probe has its own test, connectivity.test.ts).
      probeConnectivity: false,
    });
    await scanner.start(); // schedules the first sync at once
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 20; i++) await Promise.resolve();
      await new Promise((r) => setImmediate(r));
    };
    clock.advance(0);
    await settle();
    expect(calls).toEqual([1_000_000]);
    expect((await scanner.status()).nextAttemptAt).toBe(1_007_000); // Retry-After: 7
    clock.advance(7_000);
    await settle();
    expect(calls.at(-1)).toBe(1_007_000);
    expect((await scanner.status()).nextAttemptAt).toBe(1_007_000 + 1_000); // attempt 1: 0.5 · 2 s
    clock.advance(1_000);
    await settle();
    expect((await scanner.status()).nextAttemptAt).toBe(1_008_000 + 2_000); // attempt 2: 0.5 · 4 s
    clock.advance(2_000);
    await settle();
    // 401: a refusal, no fast retry; next try at the manifest interval.
    const st = await scanner.status();
    expect(st.lastError).toMatchObject({ status: 401, retryable: false });
    expect(st.nextAttemptAt).toBe(1_010_000 + 120_000);
    expect(calls).toHaveLength(4);
    scanner.stop();
  });
});

describe('manifest download budget', () => {
  it('grows with the event: a first download budgets for a large event, later ones for the highest serial seen', () => {
    expect(manifestTimeoutMs(30_000, null)).toBe(130_000);
    expect(manifestTimeoutMs(30_000, 0)).toBe(30_000);
    expect(manifestTimeoutMs(30_000, 20_000)).toBe(50_000);
    expect(manifestTimeoutMs(30_000, 5_000_000)).toBe(600_000);
    expect(manifestTimeoutMs(5_000, 200, 0)).toBe(5_000);
  });

  it('times a manifest download out by that budget, remembers the size across restarts, and keeps the request budget for the rest', async () => {
    const clock = new ManualClock(1_000_000);
    const eventId = '00000000-0000-4000-8000-0000000000e1';
    const header: ManifestHeader = {
      event_id: eventId,
      event: { id: eventId, ref: 1, name: 'Big', timezone: 'UTC', starts_at: null, ends_at: null },
      generated_at: new Date(0).toISOString(),
      expires_at: new Date(0).toISOString(),
      cursor: 'c1',
      full: true,
      policies: { duplicate_window_s: 300, default_allow_reentry: false, holder_names: false, timezone: 'UTC' },
      gates: [],
      zones: [],
      ticket_types: [],
      keys: [],
      code_digest: { algorithm: 'hmac-sha256', bytes: 8, key: 'AAAA' },
    };
    const doc: ManifestDocument = {
      ...header,
      ticket_count: 2,
      tickets: [
        { ticket_id: 't1', serial: 1, current_scans: 0, inside: false, status: 'valid' },
        { ticket_id: 't20000', serial: 20_000, current_scans: 0, inside: false, status: 'valid' },
      ],
    };
    let hang = true;
    const requests: Array<{ url: string; signal: AbortSignal }> = [];
    const fake: FetchLike = async (url, init) => {
      requests.push({ url, signal: init.signal });
      if (url.includes('/offline/manifest/')) {
        if (hang) return new Promise(() => undefined);
        return { status: 200, headers: { get: () => null }, text: async () => JSON.stringify({ manifest: doc }) };
      }
      if (url.includes('/offline/events')) return new Promise(() => undefined);
      throw new Error(`unexpected ${url}`);
    };
    const backing = memoryBacking();
    const loop = () =>
      new SyncLoop({
        store: new MemoryStore(backing),
        api: new ApiClient('http://entrada.invalid', 'edt_x', fake, clock),
        clock,
        random: () => 0.5,
        newId: () => 'id',
        eventId,
        deviceId: 'dev-1',
        sign: null,
        requestTimeoutMs: 30_000,
      });
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 20; i++) await Promise.resolve();
      await new Promise((r) => setImmediate(r));
    };
    /** Runs a cycle whose request to `path` never answers, and says after how long it was given up. */
    const budgetOf = async (engine: SyncLoop, path: string): Promise<number> => {
      const started = clock.now();
      const cycle = engine.cycle().catch((err: unknown) => err);
      await settle();
      const request = requests.at(-1)!;
      expect(request.url).toContain(path);
      let abortedAt = 0;
      request.signal.addEventListener('abort', () => {
        abortedAt = clock.now();
      });
      clock.advance(15 * 60_000);
      await settle();
      expect(await cycle).toMatchObject({ kind: 'timeout' });
      return abortedAt - started;
    };

    const engine = loop();
    // First download: the event's size is unknown, so it gets the budget of a 100,000-ticket event.
    expect(await budgetOf(engine, '/offline/manifest/')).toBe(130_000);
    hang = false;
    // The manifest arrives; the feed after it keeps the plain request budget.
    expect(await budgetOf(engine, '/offline/events')).toBe(30_000);
    hang = true;
    // Highest serial 20,000: 30 s + 20 s, also for a fresh engine on the same store (an app restart).
    expect(await budgetOf(engine, '/offline/manifest/')).toBe(50_000);
    expect(await budgetOf(loop(), '/offline/manifest/')).toBe(50_000);
  });
});

describe('manifest downloads against a busy server', () => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  const builds = new ConcurrencyLimit(1, { maxQueued: 0 });

  beforeAll(async () => {
    tdb = await pgliteBackend.open();
    // No build waits (a full slot turns the next away), the Retry-After jitter pinned, and deltas of any size judged by the quarter rule.
    server = await startTestServer(tdb.db, { manifest: { builds, random: () => 0, deltaMinTickets: 0 } });
    ev = await seedEvent(server.admin);
    await issueTickets(
      server.admin,
      ev.eventId,
      Array.from({ length: 12 }, () => ({ ticket_type_id: ev.types.ga })),
    );
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  const scannerFor = async (clock?: ManualClock) => {
    const d = await registerDevice(server.admin, 'Busy reader');
    const backing = memoryBacking();
    const scanner = new Scanner({
      store: new MemoryStore(backing),
      baseUrl: server.url,
      eventId: ev.eventId,
      fetch: realFetch,
      random: () => 0.5,
      device: { deviceId: d.deviceId, token: d.token },
      ...(clock ? { clock } : {}),
    });
    return { scanner, store: new MemoryStore(backing) };
  };

  it('waits as long as a 503 BUSY says (Retry-After), not its own backoff, then downloads', async () => {
    let release!: () => void;
    const held = builds.run(
      () =>
        new Promise<void>((r) => {
          release = r;
        }),
    );
    const clock = new ManualClock(Date.now());
    const { scanner } = await scannerFor(clock);
    await scanner.start();
    clock.advance(0);
    const busy = await eventually(async () => {
      const st = await scanner.status();
      expect(st.lastError).toMatchObject({ status: 503, retryable: true });
      return st;
    });
    // Retry-After: 1 (nothing built yet, no jitter): not the 500 ms its own backoff would have chosen.
    expect(busy.nextAttemptAt).toBe(clock.now() + 1_000);
    expect(scanner.hasManifest).toBe(false);
    release();
    await held;
    clock.advance(1_000);
    await eventually(async () => {
      expect(scanner.hasManifest).toBe(true);
      expect((await scanner.status()).lastError).toBeNull();
    });
    scanner.stop();
  });

  it('replaces its stored tickets when the server answers a large delta with the full manifest', async () => {
    const { scanner, store } = await scannerFor();
    await scanner.sync.syncNow();
    const first = (await store.loadManifest(ev.eventId))!;
    // A ticket only this device's copy has: a merge would keep it, a replacement drops it.
    await store.applyManifestDelta(
      ev.eventId,
      [{ ticket_id: 'stale-only-here', serial: 1, current_scans: 0, inside: false, status: 'valid' }],
      { refreshedAt: 0 },
    );
    const added = await issueTickets(
      server.admin,
      ev.eventId,
      Array.from({ length: first.tickets.size }, () => ({ ticket_type_id: ev.types.ga })),
    );
    await eventually(async () => {
      await scanner.sync.syncNow();
      expect((await scanner.status()).lastSummary).toMatchObject({ fullManifest: true });
    });
    const now = (await store.loadManifest(ev.eventId))!;
    expect(now.tickets.has('stale-only-here')).toBe(false);
    expect(now.tickets.size).toBe(first.tickets.size + added.length);
    expect(now.header.full).toBe(true);
    scanner.stop();
  });
});
