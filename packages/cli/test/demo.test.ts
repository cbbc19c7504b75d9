import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../../server/test/harness.ts';
import { createDemo } from '../src/commands/demo.ts';
import { scanCode } from '../src/commands/scan.ts';
import { captureOutput, cli, SLOW, startServerForTests } from './helpers.ts';

let server: TestServer;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ server, close } = await startServerForTests());
}, SLOW);
afterAll(() => close());

describe('entrada demo', () => {
  it('creates an event, issues N tickets and a device, and prints what to scan', async () => {
    const captured = captureOutput();
    const demo = await createDemo(
      { connection: { url: server.url, token: server.adminToken }, tickets: 25, name: 'Small Fest' },
      captured.output,
    );
    const out = captured.stdout();
    expect(out).toContain(
      `Created event "Small Fest" (${demo.eventId}) with zones General and VIP, gates Main Gate, VIP Gate, Exit.`,
    );
    expect(out).toContain('Issuing 100% (25/25 tickets)');
    expect(out).toMatch(/Issued 25 tickets in/);
    expect(out).toContain(`Device token  ${demo.deviceToken}`);
    expect(demo.gates.map((g) => g.name)).toEqual(['Main Gate', 'VIP Gate', 'Exit']);
    for (const g of demo.gates) expect(out).toMatch(new RegExp(`${g.name}\\s+${g.id}`));
    expect(demo.sampleCodes.map((s) => [s.tier, s.number])).toEqual([
      ['GA', '1'],
      ['Weekend re-entry', '2'],
      ['VIP', '3'],
    ]);
    for (const s of demo.sampleCodes) expect(out).toContain(s.code);
    expect(out).toContain(
      `npx entrada scan ${demo.sampleCodes[0]!.code} --event ${demo.eventId} --gate ${demo.gates[0]!.id} --url ${server.url}`,
    );
    expect(out).toContain(
      `  Pairing code  ${demo.pairing!.code}  (one device, valid until ${demo.pairing!.expiresAt}, at Main Gate)`,
    );
    expect(out).toContain(`  Pair URL      ${server.url}/?pair=${demo.pairing!.code}`);
    expect(out).toContain('  Staff login   username gate, PIN 1234');
    const staff = await server.admin.get(`/api/v1/events/${demo.eventId}/staff`);
    expect(staff.body.staff).toMatchObject([{ username: 'gate', active: true }]);

    const exported = await server.admin.get(`/api/v1/events/${demo.eventId}/tickets?limit=100`);
    expect(exported.body.tickets).toHaveLength(25);

    // The printed device and sample codes work at the gates they are meant for.
    const scan = (code: string, gateId: string) =>
      scanCode(
        { connection: { url: server.url, token: demo.deviceToken }, code, eventId: demo.eventId, gateId },
        captureOutput().output,
      );
    expect((await scan(demo.sampleCodes[0]!.code, demo.gates[0]!.id)).verdict.result).toBe('valid');
    expect((await scan(demo.sampleCodes[2]!.code, demo.gates[1]!.id)).verdict.result).toBe('valid');
    expect((await scan(demo.sampleCodes[1]!.code, demo.gates[1]!.id)).verdict.result).toBe('wrong_gate');
  });

  it('shows the demo event through `events list` and `events show`', async () => {
    const env = { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken };
    const made = await cli(['demo', '--tickets', '3'], env);
    expect(made.code).toBe(0);
    const eventId = /Event id\s+(\S+)/.exec(made.stdout)?.[1];
    const list = await cli(['events', 'list'], env);
    expect(list.stdout).toMatch(new RegExp(`${eventId}\\s+Demo Festival`));
    const show = await cli(['events', 'show', eventId!], env);
    expect(show.stdout).toMatch(/Main Gate\s+General/);
    expect(show.stdout).toMatch(/Exit\s+all zones/);
    expect(show.stdout).toMatch(/Weekend re-entry\s+General\s+1\s+yes/);
  });

  it('rejects a bad --tickets', async () => {
    const env = { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken };
    expect(await cli(['demo', '--tickets', '0'], env)).toMatchObject({
      code: 1,
      stderr: 'error: --tickets must be a whole number from 1 to 5,000,000, got 0\n',
    });
    const word = await cli(['demo', '--tickets', 'many'], env);
    expect(word).toMatchObject({
      code: 1,
      stderr: "error: option '--tickets <n>' argument 'many' is invalid. Expected a whole number.\n",
    });
  });
});
