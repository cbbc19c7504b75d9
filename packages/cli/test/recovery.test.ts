import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519, toBase64Url } from '@entrada/core';
import { MemoryStore, Scanner, systemClock, type Clock, type FetchLike } from '@entrada/client';
import {
  issueTickets,
  registerDevice,
  seedEvent,
  type SeededEvent,
  type TestServer,
} from '../../server/test/harness.ts';
import { describeOffset } from '../src/commands/recovery.ts';
import { cli, SLOW, startServerForTests, tempDir } from './helpers.ts';

let server: TestServer;
let close: () => Promise<void>;
let ev: SeededEvent;
let dir: { dir: string; remove(): Promise<void> };
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  ({ server, close } = await startServerForTests());
  ev = await seedEvent(server.admin);
  dir = await tempDir();
  env = { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken };
}, SLOW);
afterAll(async () => {
  await close();
  await dir.remove();
});

const realFetch: FetchLike = (url, init) => fetch(url, init);

/** A scanner as the app runs it (the client engine, a signed device), whose network the test switches off. */
async function device(name: string, clock: Clock = systemClock) {
  const keys = ed25519.generateKeyPair((n) => new Uint8Array(n).fill(name.length + 60));
  const reg = await registerDevice(server.admin, name, { public_key: toBase64Url(keys.publicKey) });
  let down = false;
  const scanner = new Scanner({
    store: new MemoryStore(),
    baseUrl: server.url,
    eventId: ev.eventId,
    fetch: realFetch,
    clock,
    random: () => 0.5,
    probeConnectivity: false,
    device: {
      deviceId: reg.deviceId,
      token: reg.token,
      publicKey: keys.publicKey,
      sign: (m) => ed25519.sign(keys.secretKey, m),
    },
    networkDown: () => down,
  });
  await scanner.sync.syncNow();
  return {
    scanner,
    reg,
    offline: () => {
      down = true;
    },
    online: () => {
      down = false;
    },
  };
}

describe('describeOffset', () => {
  it('words an offset with its side and never shows 60 s', () => {
    expect(describeOffset(7 * 60_000 - 40)).toBe('+7 min 0 s ahead');
    expect(describeOffset(-400)).toBe('−0.4 s behind');
    expect(describeOffset(0)).toBe('exact');
    expect(describeOffset(2 * 3_600_000 + 59 * 60_000 + 59_000)).toBe('+3 h 0 min ahead');
    expect(describeOffset(-3 * 86_400_000)).toBe('−3.0 days behind');
  });
});

describe('recovery procedures from the command line (docs/operations.md)', () => {
  it(
    'mass offline recovery: a scanner exports its log, `entrada offline import FILE` stores it, `devices export-log` shows the same scans',
    async () => {
      const tickets = await issueTickets(
        server.admin,
        ev.eventId,
        Array.from({ length: 5 }, () => ({ ticket_type_id: ev.types.ga })),
      );
      const d = await device('Never reconnected');
      d.offline();
      for (const t of tickets)
        expect(await d.scanner.scan(t.code, { gateId: ev.gates.main, direction: 'entry' })).toMatchObject({
          source: 'offline',
        });
      // A second scan of the first ticket: refused on the device, still a scan of the log.
      expect(await d.scanner.scan(tickets[0]!.code, { gateId: ev.gates.main, direction: 'entry' })).toMatchObject({
        source: 'offline',
        result: 'duplicate',
      });
      // The app's "Export unsent scans" writes exactly this document.
      const exported = await d.scanner.exportLog();
      const file = path.join(dir.dir, 'entrada-scans-never-reconnected.json');
      await writeFile(file, JSON.stringify(exported));

      const imported = await cli(['offline', 'import', file], env);
      expect(imported.stderr).toBe('');
      expect(imported.code).toBe(0);
      expect(imported.stdout).toContain(
        `Imported 6 scans of device ${d.reg.deviceId} (active) at event ${ev.eventId}:`,
      );
      expect(imported.stdout).toContain('hash chain and device signature verified');
      expect(imported.stdout).toContain('server now holds seq 1–6 contiguously');

      // Triage before and after: the device reported nothing waiting (it never synced), so its backlog shows in the table as it is now.
      const triage = await cli(['devices', 'status', '--event', ev.eventId], env);
      expect(triage.code).toBe(0);
      expect(triage.stdout.split('\n')[0]).toMatch(
        /^DEVICE ID\s+NAME\s+STATUS\s+WAITING\s+MISSING\s+LAST SYNC \(Europe\/Amsterdam\)\s+FLAGS$/,
      );
      expect(triage.stdout).toMatch(new RegExp(`${d.reg.deviceId}\\s+Never reconnected\\s+active\\s+\\S+\\s+0\\s`));

      // Idempotent: the same file again stores nothing new.
      const again = await cli(['offline', 'import', file, '--json'], env);
      const answer = JSON.parse(again.stdout) as {
        summary: { total_uploaded: number; successful: number; duplicates: number };
      };
      expect(answer.summary).toMatchObject({ total_uploaded: 6, successful: 0, duplicates: 6 });

      // What the server holds of the device: the same seqs, one per exported scan.
      const out = path.join(dir.dir, 'server-log.json');
      const logged = await cli(
        ['devices', 'export-log', '--event', ev.eventId, '--device', d.reg.deviceId, '--out', out],
        env,
      );
      expect(logged.code).toBe(0);
      expect(logged.stdout).toContain(
        `Wrote 6 scans of device ${d.reg.deviceId} at Test Event (6 uploaded offline, 0 online); seq 1–6 complete to ${out}`,
      );
      const serverLog = JSON.parse(await readFile(out, 'utf8')) as {
        scans: Array<{ seq: number; verdict: string }>;
        sync: { acked_through: number; missing: unknown[] };
      };
      expect(serverLog.scans.map((s) => s.seq)).toEqual(exported.scans.map((s) => s.seq));
      expect(serverLog.sync).toMatchObject({ acked_through: 6, missing: [] });
      expect(serverLog.scans.filter((s) => s.verdict === 'admitted')).toHaveLength(5);

      // For people: a table with times in the event's zone.
      const table = await cli(['devices', 'export-log', '--event', ev.eventId, '--device', d.reg.deviceId], env);
      const [header, ...rows] = table.stdout.trimEnd().split('\n');
      expect(header).toMatch(/^SEQ\s+TIME \(Europe\/Amsterdam\)\s+DIR\s+GATE\s+VERDICT\s+REASON$/);
      expect(rows[0]).toMatch(/^1\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+entry\s+Main\s+admitted/);
      expect(rows.at(-1)).toMatch(/^6 scans of device/);
    },
    SLOW,
  );

  it(
    'refuses a file that is not a scanner export, a missing file and an unknown device, each saying what to do',
    async () => {
      const csv = path.join(dir.dir, 'tickets.csv');
      await writeFile(csv, 'code,name\nA,B\n');
      const notJson = await cli(['offline', 'import', csv], env);
      expect(notJson).toMatchObject({ code: 1 });
      expect(notJson.stderr).toMatch(
        /^error: .*tickets\.csv is not JSON; export the log again from the scanner app \(tap the status bar → Export unsent scans\)/,
      );
      const other = path.join(dir.dir, 'other.json');
      await writeFile(other, JSON.stringify({ format: 'something/else' }));
      expect((await cli(['offline', 'import', other], env)).stderr).toContain(
        'is not a scanner\'s exported scan log (format "something/else", expected "entrada/device-log/v1")',
      );
      expect((await cli(['offline', 'import', path.join(dir.dir, 'nope.json')], env)).stderr).toContain('no file');
      const unknown = await cli(['devices', 'export-log', '--event', ev.eventId, '--device', 'no-such-device'], env);
      expect(unknown).toMatchObject({ code: 1 });
      expect(unknown.stderr).toContain(
        'the server holds no scans of device "no-such-device" at Test Event; check the id with `entrada devices list`',
      );
      const badEvent = await cli(['devices', 'clock', '--event', 'not-a-uuid'], env);
      expect(badEvent.stderr).toContain('--event must be an event id');
    },
    SLOW,
  );

  it(
    "clock-skew discovery: `entrada devices clock` shows each device's offset as measured at its last upload and flags the skewed one",
    async () => {
      // This phone's clock runs 7 minutes fast; its upload tells the server so (device_time).
      const fast: Clock = { ...systemClock, now: () => Date.now() + 7 * 60_000 };
      const [t, u] = await issueTickets(server.admin, ev.eventId, [
        { ticket_type_id: ev.types.ga },
        { ticket_type_id: ev.types.ga },
      ]);
      const skewed = await device('Fast clock', fast);
      skewed.offline();
      await skewed.scanner.scan(t!.code, { gateId: ev.gates.main, direction: 'entry' });
      skewed.online();
      await skewed.scanner.sync.syncNow();
      expect((await skewed.scanner.status()).pending).toBe(0);
      const good = await device('Good clock');
      good.offline();
      await good.scanner.scan(u!.code, { gateId: ev.gates.main, direction: 'entry' });
      good.online();
      await good.scanner.sync.syncNow();

      const r = await cli(['devices', 'clock', '--event', ev.eventId], env);
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^DEVICE ID\s+NAME\s+CLOCK\s+MEASURED \(Europe\/Amsterdam\)\s+IMPLAUSIBLE\s+FLAG$/);
      expect(lines.find((l) => l.startsWith(skewed.reg.deviceId))).toMatch(
        /Fast clock\s+\+7 min \d+ s ahead\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+SKEWED$/,
      );
      expect(lines.find((l) => l.startsWith(good.reg.deviceId))).toMatch(
        /Good clock\s+[+−]?\d+\.\d s( ahead| behind)?\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+ok$/,
      );
      expect(r.stdout).toContain("1 device off by more than 60 s: set the phone's time to automatic, then sync it.");

      const json = JSON.parse((await cli(['devices', 'clock', '--event', ev.eventId, '--json'], env)).stdout) as {
        devices: Array<{ device_id: string; skewed: boolean; clock_offset_ms: number }>;
      };
      const mine = json.devices.find((x) => x.device_id === skewed.reg.deviceId)!;
      expect(mine.skewed).toBe(true);
      expect(mine.clock_offset_ms).toBeGreaterThan(6 * 60_000);
    },
    SLOW,
  );
});
