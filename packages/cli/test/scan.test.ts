import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  issueTickets,
  registerDevice,
  seedEvent,
  type SeededEvent,
  type TestServer,
} from '../../server/test/harness.ts';
import { scanCode } from '../src/commands/scan.ts';
import { colorEnabled } from '../src/output.ts';
import { captureOutput, cli, SLOW, startServerForTests } from './helpers.ts';

let server: TestServer;
let close: () => Promise<void>;
let ev: SeededEvent;
let device: { deviceId: string; token: string };

beforeAll(async () => {
  ({ server, close } = await startServerForTests());
  ev = await seedEvent(server.admin);
  device = await registerDevice(server.admin, 'North gate 1');
}, SLOW);
afterAll(() => close());

const scanArgs = (code: string): string[] => [
  'scan',
  code,
  '--event',
  ev.eventId,
  '--gate',
  ev.gates.main,
  '--url',
  server.url,
];

describe('entrada scan', () => {
  it('shows VALID (exit 0), then DUPLICATE with who, when and where it was first scanned (exit 2)', async () => {
    const [ticket] = await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga, holder_name: 'Ann Example', number: 'A-1' },
    ]);
    const env = { ENTRADA_DEVICE_TOKEN: device.token };

    const first = await cli(scanArgs(ticket!.code), env);
    expect(first.code).toBe(0);
    expect(first.stderr).toBe('');
    const lines = first.stdout.split('\n');
    expect(lines[0]).toBe('='.repeat(80));
    expect(lines[1]).toContain('✔  VALID  ✔');
    expect(first.stdout).toMatch(/Ticket\s+#A-1/);
    expect(first.stdout).toMatch(/Tier\s+GA/);
    expect(first.stdout).toMatch(/Holder\s+Ann Example/);
    expect(first.stdout).toMatch(/Scans used\s+1 of 1/);
    expect(first.stdout).not.toContain('\x1b[');

    const again = await cli(scanArgs(ticket!.code), env);
    expect(again.code).toBe(2);
    expect(again.stdout).toContain('⚠  DUPLICATE  ⚠');
    expect(again.stdout).toMatch(/First scanned\s+\d{4}-\d\d-\d\dT[\d:.]+Z \(\d+ s ago\)/);
    expect(again.stdout).toMatch(new RegExp(`Scanned by\\s+North gate 1 \\(${device.deviceId}\\)`));
    expect(again.stdout).toMatch(/Previous gate\s+Main/);
    expect(again.stdout).toMatch(/Result\s+duplicate \(double_read\)/);
  });

  it('shows a red INVALID for a code that is no ticket (exit 2)', async () => {
    const r = await cli(scanArgs('NOT-A-TICKET'), { ENTRADA_DEVICE_TOKEN: device.token });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('✖  INVALID  ✖');
    expect(r.stdout).toMatch(/Result\s+invalid_token \(unknown_code\)/);
  });

  it('draws a full-width coloured band when colour is on, and none under NO_COLOR', async () => {
    const [ticket] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    const captured = captureOutput({ color: true, columns: 100 });
    const { exitCode, verdict } = await scanCode(
      {
        connection: { url: server.url, token: device.token },
        code: ticket!.code,
        eventId: ev.eventId,
        gateId: ev.gates.main,
      },
      captured.output,
    );
    expect([exitCode, verdict.result]).toEqual([0, 'valid']);
    const band = captured.stdout().split('\n').slice(0, 3);
    expect(band[0]).toBe(`\x1b[1;97;42m${' '.repeat(100)}\x1b[0m`);
    const red = captureOutput({ color: true });
    await scanCode(
      {
        connection: { url: server.url, token: device.token },
        code: 'nope',
        eventId: ev.eventId,
        gateId: ev.gates.main,
      },
      red.output,
    );
    expect(red.stdout()).toContain('\x1b[1;97;41m');

    expect(colorEnabled({}, true)).toBe(true);
    expect(colorEnabled({ NO_COLOR: '1' }, true)).toBe(false);
    expect(colorEnabled({ NO_COLOR: '1', FORCE_COLOR: '1' }, false)).toBe(false);
    expect(colorEnabled({ FORCE_COLOR: '1' }, false)).toBe(true);
    expect(colorEnabled({}, false)).toBe(false);
  });

  it('scans in a session, in either direction', async () => {
    const [ticket] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.reentry }]);
    const session = await server
      .client(device.token)
      .post('/api/v1/scanning/sessions', { event_id: ev.eventId, gate_id: ev.gates.main });
    expect(session.status).toBe(201);
    const env = { ENTRADA_DEVICE_TOKEN: device.token, ENTRADA_URL: server.url };
    const entry = await cli(['scan', ticket!.code, '--session', session.body.id], env);
    expect(entry.code).toBe(0);
    const exit = await cli(['scan', ticket!.code, '--session', session.body.id, '--direction', 'exit'], env);
    expect(exit.code).toBe(0);
    expect(exit.stdout).toContain('VALID — EXIT');
  });

  it('refuses bad invocations with one line and exit 1', async () => {
    const env = { ENTRADA_URL: server.url };
    const noToken = await cli(scanArgs('X'), { ...env, ENTRADA_ADMIN_TOKEN: server.adminToken });
    expect(noToken).toMatchObject({
      code: 1,
      stderr:
        'error: no device token: pass --token or set ENTRADA_DEVICE_TOKEN (`entrada devices register` prints one)\n',
    });
    const adminToken = await cli([...scanArgs('X'), '--token', server.adminToken], env);
    expect(adminToken).toMatchObject({ code: 1, stderr: 'error: Invalid device token (UNAUTHORIZED)\n' });
    const nowhere = await cli(['scan', 'X', '--token', device.token], env);
    expect(nowhere.stderr).toBe(
      'error: say where the scan happens: --event EVENT_ID --gate GATE_ID, or --session SESSION_ID\n',
    );
    const unknownGate = await cli(
      ['scan', 'X', '--event', ev.eventId, '--gate', '6f1c1e0e-0000-4000-8000-000000000000', '--token', device.token],
      env,
    );
    expect(unknownGate).toMatchObject({ code: 1, stderr: 'error: Gate not found (NOT_FOUND)\n' });
    const direction = await cli([...scanArgs('X'), '--direction', 'sideways', '--token', device.token], env);
    expect(direction.code).toBe(1);
    expect(direction.stderr).toContain(
      "error: option '--direction <direction>' argument 'sideways' is invalid. Allowed choices are entry, exit.",
    );
  });
});
