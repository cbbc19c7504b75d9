import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import type { FetchLike } from '../src/http.ts';
import { NodeFileStore } from '../src/node.ts';
import { Scanner } from '../src/scanner.ts';
import { ManifestIndex } from '../src/manifest.ts';
import { MemoryStore } from '../src/storage/memory-store.ts';
import type { ManifestHeader } from '../src/manifest-types.ts';

const realFetch: FetchLike = (url, init) => fetch(url, init);

/**
 * Seed 004's "corrupted local storage" procedure, on the engine: a device
 * whose scan log and settings file are damaged starts, keeps every readable
 * scan, preserves the damaged files, says what happened, and uploads what it
 * kept; the server then reports the lost scan's seq as missing.
 */
describe('recovery: the engine on a damaged store (real server, real files)', () => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  const dirs: string[] = [];

  beforeAll(async () => {
    tdb = await pgliteBackend.open();
    server = await startTestServer(tdb.db);
    ev = await seedEvent(server.admin);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('keeps every readable scan after a damaged line, preserves the damaged files, tells the user, and uploads what it kept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'entrada-recovery-'));
    dirs.push(dir);
    const keys = ed25519.generateKeyPair((n) => new Uint8Array(n).fill(42));
    const device = await registerDevice(server.admin, 'Damaged phone', { public_key: toBase64Url(keys.publicKey) });
    const tickets = await issueTickets(
      server.admin,
      ev.eventId,
      Array.from({ length: 5 }, () => ({ ticket_type_id: ev.types.ga })),
    );
    let down = false;
    const switchable: FetchLike = (url, init) =>
      realFetch(down ? url.replace(server.url, 'http://127.0.0.1:9') : url, init);
    const make = async (): Promise<{ scanner: Scanner; store: NodeFileStore }> => {
      const store = await NodeFileStore.open(dir);
      const scanner = new Scanner({
        store,
        baseUrl: server.url,
        eventId: ev.eventId,
        fetch: switchable,
        random: () => 0.5,
        probeConnectivity: false,
        device: {
          deviceId: device.deviceId,
          token: device.token,
          publicKey: keys.publicKey,
          sign: (m) => ed25519.sign(keys.secretKey, m),
        },
        networkDown: () => down,
      });
      return { scanner, store };
    };

    const first = await make();
    await first.scanner.start();
    await first.scanner.sync.syncNow();
    expect(first.scanner.hasManifest).toBe(true);
    down = true;
    for (const t of tickets)
      expect(await first.scanner.scan(t.code, { gateId: ev.gates.main, direction: 'entry' })).toMatchObject({
        source: 'offline',
        result: 'valid',
      });
    first.scanner.stop();
    await first.store.close();

    // The damage: seq 2's line is garbage (a flash fault, not a torn write: its newline is there), and the settings file too.
    const logName = (await readdir(dir)).find((f) => f.startsWith('outbox-') && f.endsWith('.jsonl'))!;
    const lines = (await readFile(join(dir, logName), 'utf8')).split('\n');
    const seq2 = lines.findIndex((l) => l.includes('"seq":2,'));
    expect(seq2).toBeGreaterThanOrEqual(0);
    lines[seq2] = '{"op":"scan","scan":{"seq":2,"prevLi\u0000\u0000\u0000garbage';
    const damagedLog = lines.join('\n');
    await writeFile(join(dir, logName), damagedLog);
    await writeFile(join(dir, 'meta.json'), '{"sync-marks:');

    const second = await make();
    await second.scanner.start();
    const problems = second.scanner.storageProblems;
    expect(problems.map((p) => p.part).sort()).toEqual(['meta', 'outbox']);
    const outbox = problems.find((p) => p.part === 'outbox')!;
    expect(outbox).toMatchObject({ eventId: ev.eventId, kept: 4, skipped: 1 });
    expect(outbox.message).toMatch(/unreadable/);
    // Preserved byte for byte before anything was cut or rewritten.
    expect(await readFile(outbox.preservedAs!, 'utf8')).toBe(damagedLog);
    expect(existsSync(problems.find((p) => p.part === 'meta')!.preservedAs!)).toBe(true);
    expect((await second.store.pending(ev.eventId, 10)).map((s) => s.seq)).toEqual([1, 3, 4, 5]);

    // Back online: what was kept is uploaded; the server names the lost seq.
    down = false;
    await eventually(async () => {
      await second.scanner.sync.syncNow();
      const st = await second.scanner.status();
      expect(st.pending).toBe(0);
      expect(st.missing).toEqual([[2, 2]]);
    });
    // A scan after the damage continues the chain and the seqs.
    const next = await second.scanner.scan(tickets[0]!.code, { gateId: ev.gates.main, direction: 'exit' });
    expect(next.source).toBe('online');
    second.scanner.stop();
    await second.store.close();

    // A third start finds nothing new to report (the damaged line is still skipped, and said so, but nothing more is lost).
    const third = await make();
    await third.scanner.start();
    expect(third.scanner.storageProblems.filter((p) => p.part === 'meta')).toEqual([]);
    third.scanner.stop();
    await third.store.close();
  });

  it('does not decide with a stored manifest of another event, and says the ticket data expired when it is past expires_at', async () => {
    const store = new MemoryStore();
    const other = await seedEvent(server.admin, { name: 'Another event' });
    const keys = ed25519.generateKeyPair((n) => new Uint8Array(n).fill(43));
    const device = await registerDevice(server.admin, 'Two-event phone', { public_key: toBase64Url(keys.publicKey) });
    const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    let now = Date.now();
    const clock = {
      now: () => now,
      setTimeout: (fn: () => void, ms: number) => globalThis.setTimeout(fn, ms),
      clearTimeout: (h: unknown) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
    };
    const scanner = new Scanner({
      store,
      baseUrl: server.url,
      eventId: ev.eventId,
      fetch: realFetch,
      clock,
      random: () => 0.5,
      probeConnectivity: false,
      device: {
        deviceId: device.deviceId,
        token: device.token,
        publicKey: keys.publicKey,
        sign: (m) => ed25519.sign(keys.secretKey, m),
      },
    });
    await scanner.sync.syncNow();
    await scanner.reloadManifest();
    const mine = (await store.loadManifest(ev.eventId))!;
    // Expiry: 12 h after it arrived on this device.
    expect(scanner.manifestExpiresAt).toBe(
      mine.refreshedAt + (Date.parse(mine.header.expires_at) - Date.parse(mine.header.generated_at)),
    );
    expect(scanner.manifestExpired()).toBe(false);
    now = scanner.manifestExpiresAt! + 1;
    expect(scanner.manifestExpired()).toBe(true);
    const late = await scanner.scanOffline(t!.code, { gateId: ev.gates.main, direction: 'entry' });
    expect(late).toMatchObject({ result: 'valid', expired: true, stale: true });

    // The other event's manifest stored under this event's key (a damaged or hand-copied store): never used.
    const foreignHeader: ManifestHeader = {
      ...mine.header,
      event_id: other.eventId,
      event: { ...mine.header.event, id: other.eventId },
    };
    await store.saveManifest(ev.eventId, foreignHeader, [...mine.tickets.values()], now);
    await scanner.reloadManifest();
    expect(scanner.hasManifest).toBe(false);
    const refused = await scanner.scanOffline(t!.code, { gateId: ev.gates.main, direction: 'entry' });
    expect(refused).toMatchObject({ source: 'offline', result: null });
    expect(refused.message).toMatch(/another event/);
    expect(ManifestIndex.from({ ...mine, header: foreignHeader }).event.id).toBe(other.eventId);
    scanner.stop();
  });
});
