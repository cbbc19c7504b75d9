import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../../server/test/harness.ts';
import { runSimulate } from '../src/commands/simulate.ts';
import { planScans } from '../src/simulate/plan.ts';
import { captureOutput, cli, SLOW, startServerForTests } from './helpers.ts';

let server: TestServer;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ server, close } = await startServerForTests());
}, SLOW);
afterAll(() => close());

describe('entrada simulate', () => {
  it('scans offline on 4 devices, reconnects them at once and converges with the expected conflicts', async () => {
    const captured = captureOutput();
    const r = await runSimulate({ connection: { url: server.url, token: server.adminToken }, devices: 4, tickets: 200, offlineMinutes: 5, overlap: 0.1, seed: 7 }, captured.output);
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

    expect(out).toContain('Issuing 100% (200/200 tickets)');
    expect(out).toContain('Syncing 100%');
    expect(out).toMatch(/^Devices\s+4$/m);
    expect(out).toMatch(/^Tickets\s+200$/m);
    expect(out).toMatch(new RegExp(`^Scans made\\s+${r.scansMade}$`, 'm'));
    expect(out).toMatch(new RegExp(`^Scans acknowledged\\s+${r.scansMade}$`, 'm'));
    expect(out).toMatch(/^Admitted\s+200 tickets$/m);
    expect(out).toMatch(new RegExp(`^Conflicts\\s+${r.expectedConflicts}$`, 'm'));
    expect(out).toMatch(new RegExp(`^Expected conflicts\\s+${r.expectedConflicts}$`, 'm'));
    expect(out).toMatch(/^Time to converge\s+\d+\.\d+ s$/m);
    expect(out).toMatch(/^Scans\/s\s+[\d,]+\/s$/m);
    expect(out).toMatch(/^Seed\s+7$/m);
    expect(out).toContain('Converged: every scan acknowledged, none lost. Replay with --seed 7.');

    // The server kept every scan with its offline time, inside the window.
    const health = await server.admin.get(`/api/v1/events/${r.eventId}/offline-health`);
    expect(health.body.totals.missing_scans).toBe(0);
    expect(health.body.totals.devices).toBe(4);
  }, SLOW);

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

  it('runs through the command line and lists its options in --help', async () => {
    const help = await cli(['simulate', '--help']);
    expect(help.code).toBe(0);
    for (const o of ['--devices <n>', '--tickets <n>', '--offline-minutes <n>', '--overlap <share>', '--seed <n>', '--timeout <s>', '--url <url>', '--token <token>']) {
      expect(help.stdout).toContain(o);
    }
    const made = await cli(['simulate', '--devices', '2', '--tickets', '20', '--offline-minutes', '1', '--seed', '3', '--overlap', '0.5'], { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken });
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/^Seed\s+3$/m);
    const bad = await cli(['simulate', '--overlap', '2'], { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--overlap must be a number from 0 to 1');
  }, SLOW);
});
