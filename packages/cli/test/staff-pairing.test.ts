import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, seedEvent, type SeededEvent, type TestServer } from '../../server/test/harness.ts';
import { parseDuration } from '../src/commands/devices.ts';
import { cli, SLOW, startServerForTests } from './helpers.ts';

let server: TestServer;
let close: () => Promise<void>;
let ev: SeededEvent;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  ({ server, close } = await startServerForTests());
  ev = await seedEvent(server.admin);
  env = { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken };
}, SLOW);
afterAll(() => close());

const publicKey = (): string => generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!;

describe('entrada devices pair', () => {
  it('prints a code and pair URL that pair a scanner once', async () => {
    const r = await cli(
      ['devices', 'pair', '--event', ev.eventId, '--gate', ev.gates.main, '--ttl', '2h', '--name', 'North 1'],
      env,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const code = /^Pairing code {2}(\S+)$/m.exec(r.stdout)?.[1];
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(r.stdout).toContain(`Pair URL      ${server.url}/?pair=${code}`);
    expect(r.stdout).toMatch(/Valid until {3}\d{4}-\S+Z \(2 h\), for one device/);
    // Not a terminal with colours: no QR drawing, only text.
    expect(r.stdout).not.toContain('\u001b[');

    const anon = new Client(server.url, null);
    const paired = await anon.post('/api/v1/devices/pair', { code: code!.toLowerCase(), public_key: publicKey() });
    expect(paired.status).toBe(201);
    expect(paired.body).toMatchObject({ gate_id: ev.gates.main, device: { name: 'North 1' } });
    expect((await anon.post('/api/v1/devices/pair', { code, public_key: publicKey() })).body.error).toBe(
      'PAIRING_CODE_USED',
    );
  });

  it('draws the QR in a terminal with colours', async () => {
    const r = await cli(['devices', 'pair', '--event', ev.eventId], env, { color: true });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('(15 min)');
    expect(r.stdout).toContain('\u001b[47m\u001b[30m');
    expect(r.stdout).toMatch(/[▀▄█]/);
  });

  it('checks --ttl, --event and --gate', async () => {
    expect(parseDuration('15m')).toBe(900);
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('2h')).toBe(7200);
    expect(parseDuration('1d')).toBe(86_400);
    expect(parseDuration('600')).toBe(600);
    expect(parseDuration('soon')).toBeNull();
    for (const ttl of ['30s', '2d', 'soon']) {
      expect(await cli(['devices', 'pair', '--event', ev.eventId, '--ttl', ttl], env)).toMatchObject({
        code: 1,
        stderr: `error: --ttl must be a duration from 1m to 24h (e.g. 90s, 15m, 2h), got "${ttl}"\n`,
      });
    }
    expect((await cli(['devices', 'pair', '--event', 'nope'], env)).stderr).toBe(
      'error: --event must be an event id (a UUID such as 0b9e…-…), got "nope"\n',
    );
    expect((await cli(['devices', 'pair', '--event', ev.eventId, '--gate', crypto.randomUUID()], env)).stderr).toBe(
      'error: Gate not found (NOT_FOUND)\n',
    );
    expect((await cli(['devices', 'pair'], env)).stderr).toBe("error: required option '--event <id>' not specified\n");
  });
});

describe('entrada staff', () => {
  it('adds, lists and deactivates staff; the PIN works for a device login', async () => {
    const none = await cli(['staff', 'list', '--event', ev.eventId], env);
    expect(none.stdout).toContain('No staff yet.');

    const added = await cli(
      ['staff', 'add', '--event', ev.eventId, '--username', 'ann', '--name', 'Ann de Vries', '--pin', '4711'],
      env,
    );
    expect(added.code).toBe(0);
    expect(added.stdout).toContain(`Added staff member "Ann de Vries" (username ann) to event ${ev.eventId}.`);
    expect(added.stdout).not.toContain('4711');
    const staffId = /^ {2}id {2}(\S+)$/m.exec(added.stdout)?.[1];
    expect(staffId).toMatch(/^[0-9a-f-]{36}$/);

    expect(
      await cli(['staff', 'add', '--event', ev.eventId, '--username', 'ANN', '--name', 'Other', '--pin', '1234'], env),
    ).toMatchObject({ code: 1, stderr: 'error: The username "ANN" is already taken in this event (CONFLICT)\n' });
    expect(
      await cli(['staff', 'add', '--event', ev.eventId, '--username', 'bo', '--name', 'Bo', '--pin', '12'], env),
    ).toMatchObject({ code: 1, stderr: 'error: --pin must be 4 to 12 digits\n' });

    const device = (await server.admin.post('/api/v1/devices', { name: 'Staff CLI test' })).body.token as string;
    const login = () =>
      server.client(device).post(`/api/v1/events/${ev.eventId}/login`, { username: 'ann', pin: '4711' });
    expect((await login()).status).toBe(200);

    const list = await cli(['staff', 'list', '--event', ev.eventId], env);
    const [header, ...rows] = list.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^USERNAME\s+NAME\s+STATUS\s+STAFF ID\s+CREATED$/);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(new RegExp(`^ann\\s+Ann de Vries\\s+active\\s+${staffId}\\s+\\d{4}-`));

    const off = await cli(['staff', 'deactivate', '--event', ev.eventId, '--staff', staffId!], env);
    expect(off.stdout).toBe('Deactivated ann ("Ann de Vries"): their logins fail from now on.\n');
    expect((await cli(['staff', 'list', '--event', ev.eventId], env)).stdout).toMatch(
      /^ann\s+Ann de Vries\s+inactive/m,
    );
    expect((await login()).body.error).toBe('INVALID_LOGIN');
  });
});
