import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../../server/test/harness.ts';
import type { ManifestHeader, ManifestTicket } from '@entrada/client';
import { failureCause, runSimulate } from '../src/commands/simulate.ts';
import { planScans, reconnectOffsets } from '../src/simulate/plan.ts';
import { manifestPool, sameJson, SimStore } from '../src/simulate/store.ts';
import { captureOutput, cli, SLOW, startServerForTests } from './helpers.ts';

let server: TestServer;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ server, close } = await startServerForTests());
}, SLOW);
afterAll(() => close());

describe('entrada simulate', () => {
  it(
    'scans offline on 4 devices, reconnects them at once and converges with the expected conflicts',
    async () => {
      const captured = captureOutput();
      const r = await runSimulate(
        {
          connection: { url: server.url, token: server.adminToken },
          devices: 4,
          tickets: 200,
          offlineMinutes: 5,
          overlap: 0.1,
          seed: 7,
        },
        captured.output,
      );
      const out = captured.stdout();
      expect(captured.stderr()).toBe('');
      expect(r.exitCode).toBe(0);
      expect(r.converged).toBe(true);
      expect(r.lostScans).toBe(0);
      expect(r.expectedConflicts).toBeGreaterThan(0);
      expect(r.scansMade).toBe(200 + r.expectedConflicts);
      expect(r.scansAcknowledged).toBe(r.scansMade);
      expect(r.conflicts).toBe(r.expectedConflicts);
      expect(r.admitted).toBe(200);
      expect(r.devicesMismatched).toBe(0);
      expect(r.manifestCopies).toBe(1);
      expect(r.drainMs).not.toBeNull();
      expect(r.convergeMs!).toBeGreaterThanOrEqual(r.drainMs!);
      expect(r.peakRssMb).toBeGreaterThan(0);

      expect(out).toContain('Issuing 100% (200/200 tickets)');
      expect(out).toContain('Syncing 100%');
      expect(out).toMatch(/^Devices\s+4$/m);
      expect(out).toMatch(/^Tickets\s+200$/m);
      expect(out).toMatch(new RegExp(`^Scans made\\s+${r.scansMade}$`, 'm'));
      expect(out).toMatch(new RegExp(`^Scans acknowledged\\s+${r.scansMade}$`, 'm'));
      expect(out).toMatch(/^Admitted\s+200 tickets$/m);
      expect(out).toMatch(new RegExp(`^Conflicts\\s+${r.expectedConflicts}$`, 'm'));
      expect(out).toMatch(new RegExp(`^Expected conflicts\\s+${r.expectedConflicts}$`, 'm'));
      expect(out).toMatch(/^Device logs matching the server\s+4\/4$/m);
      expect(out).toMatch(/^All scans acknowledged after\s+\d+\.\d+ s$/m);
      expect(out).toMatch(/^Time to converge\s+\d+\.\d+ s$/m);
      expect(out).toMatch(/^Peak memory \(this process\)\s+[\d,]+ MiB$/m);
      expect(out).toContain('one ticket map shared by all');
      expect(out).toMatch(/^Scans\/s\s+[\d,]+\/s$/m);
      expect(out).toMatch(/^Seed\s+7$/m);
      expect(out).toContain(
        'Converged: every scan acknowledged, none lost, none duplicated, every double entry one conflict. Replay with --seed 7.',
      );

      // The server kept every scan with its offline time, inside the window.
      const health = await server.admin.get(`/api/v1/events/${r.eventId}/offline-health`);
      expect(health.body.totals.missing_scans).toBe(0);
      expect(health.body.totals.devices).toBe(4);
    },
    SLOW,
  );

  it('plans the same scans for the same seed, every ticket once plus the overlap, in time order per device', () => {
    const a = planScans(42, 1000, 5, 0.05, 1_000_000, 60_000);
    const b = planScans(42, 1000, 5, 0.05, 1_000_000, 60_000);
    expect(a).toEqual(b);
    const all = a.perDevice.flat();
    expect(all).toHaveLength(a.scans);
    expect(new Set(all.map((s) => s.ticket)).size).toBe(1000);
    expect(a.overlapping).toBeGreaterThan(20);
    expect(a.overlapping).toBeLessThan(90);
    for (const list of a.perDevice) {
      for (let i = 1; i < list.length; i++) expect(list[i]!.at).toBeGreaterThanOrEqual(list[i - 1]!.at);
      for (const s of list) expect(s.at).toBeGreaterThanOrEqual(1_000_000 - 60_000);
    }
    expect(planScans(1, 50, 1, 0.5, 0, 1000).overlapping).toBe(0);
  });

  it('reconnects every device at once by default, or spread over a seeded window', () => {
    expect(reconnectOffsets(5, 3, 0)).toEqual([0, 0, 0]);
    const spread = reconnectOffsets(5, 50, 60_000);
    expect(spread).toEqual(reconnectOffsets(5, 50, 60_000));
    expect(spread[0]).toBe(0);
    for (const o of spread) expect(o >= 0 && o < 60_000).toBe(true);
    expect(new Set(spread).size).toBeGreaterThan(40);
  });

  it('shares one ticket map between devices that downloaded the same tickets, whatever their cursors', async () => {
    const ticket = (serial: number, scans = 0): ManifestTicket => ({
      ticket_id: `t-${serial}`,
      serial,
      type_id: 'ga',
      zones: ['z'],
      max_scans: 1,
      current_scans: scans,
      inside: scans > 0,
      status: 'valid',
    });
    const header = (cursor: string): ManifestHeader => ({ cursor }) as ManifestHeader;
    // Fresh objects per download, as each device parses its own response.
    const download = (scanned: number[] = []): ManifestTicket[] =>
      [1, 2, 3].map((s) => ticket(s, scanned.includes(s) ? 1 : 0));
    const pool = manifestPool();
    const [a, b, c] = [0, 1, 2].map(() => new SimStore(pool, () => undefined));
    await a!.saveManifest('e', header('cursor-1'), download(), 1);
    await b!.saveManifest('e', header('cursor-2'), download(), 2);
    const ma = (await a!.loadManifest())!;
    const mb = (await b!.loadManifest())!;
    expect(mb.tickets).toBe(ma.tickets);
    expect(mb.header.cursor).toBe('cursor-2');
    expect(mb.refreshedAt).toBe(2);

    // Different content: a map of its own, reusing the unchanged tickets' objects; the first devices keep what they downloaded.
    await c!.saveManifest('e', header('cursor-3'), download([2]), 3);
    const mc = (await c!.loadManifest())!;
    expect(mc.tickets).not.toBe(ma.tickets);
    expect(mc.tickets.get('t-1')).toBe(ma.tickets.get('t-1'));
    expect(mc.tickets.get('t-2')!.current_scans).toBe(1);
    expect(ma.tickets.get('t-2')!.current_scans).toBe(0);
    expect(pool.stats).toEqual({ shared: 1, built: 2 });

    // A delta merges into the device's map and replaces its header (then its cursor); the feed moves only the feed cursor.
    await c!.applyManifestDelta('e', [{ ticket_id: 't-3', current_scans: 1, inside: true }], {
      manifest: 'cursor-4',
      header: header('ignored'),
      refreshedAt: 4,
    });
    await c!.applyManifestDelta('e', [], { feed: 'feed-1', refreshedAt: 5 });
    const md = (await c!.loadManifest())!;
    expect(md.header.cursor).toBe('cursor-4');
    expect(md.feedCursor).toBe('feed-1');
    expect(md.refreshedAt).toBe(5);
    expect(md.tickets.get('t-3')).toMatchObject({ serial: 3, current_scans: 1, inside: true });

    expect(sameJson({ a: [1, { b: null }] }, { a: [1, { b: null }] })).toBe(true);
    expect(sameJson({ a: [1, { b: null }] }, { a: [1, { b: 0 }] })).toBe(false);
    expect(sameJson({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(sameJson([1], { 0: 1 })).toBe(false);
  });

  it('counts failed syncs by cause, without device ids and cursors', () => {
    expect(
      failureCause(
        'GET /api/v1/offline/manifest/0b7987f0-7c72-4319-a959-50ae29bdf1ce?device_id=dev_1&since=abc took longer than 30000 ms',
      ),
    ).toBe('GET /api/v1/offline/manifest/:id took longer than 30000 ms');
    expect(failureCause('POST /api/v1/offline/sync: fetch failed')).toBe('POST /api/v1/offline/sync: fetch failed');
  });

  it(
    'runs through the command line and lists its options in --help',
    async () => {
      const help = await cli(['simulate', '--help']);
      expect(help.code).toBe(0);
      for (const o of [
        '--devices <n>',
        '--tickets <n>',
        '--offline-minutes <n>',
        '--overlap <share>',
        '--seed <n>',
        '--timeout <s>',
        '--reconnect-over <s>',
        '--url <url>',
        '--token <token>',
      ]) {
        expect(help.stdout).toContain(o);
      }
      const made = await cli(
        [
          'simulate',
          '--devices',
          '2',
          '--tickets',
          '20',
          '--offline-minutes',
          '1',
          '--seed',
          '3',
          '--overlap',
          '0.5',
          '--reconnect-over',
          '1',
        ],
        { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken },
      );
      expect(made.stderr).toBe('');
      expect(made.code).toBe(0);
      expect(made.stdout).toContain('reconnecting over 1 s (seed 3)');
      expect(made.stdout).toMatch(/^Seed\s+3$/m);
      const bad = await cli(['simulate', '--overlap', '2'], {
        ENTRADA_URL: server.url,
        ENTRADA_ADMIN_TOKEN: server.adminToken,
      });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('--overlap must be a number from 0 to 1');
    },
    SLOW,
  );
});
