import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../../server/test/harness.ts';
import { cli, SLOW, startServerForTests } from './helpers.ts';

let server: TestServer;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ server, close } = await startServerForTests());
}, SLOW);
afterAll(() => close());

describe('entrada devices', () => {
  it('lists nothing yet, registers devices (token shown once), lists them as a table', async () => {
    const env = { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken };
    const empty = await cli(['devices', 'list'], env);
    expect(empty.stdout).toContain('No devices yet');

    const first = await cli(['devices', 'register', '--name', 'North gate 1'], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Registered device "North gate 1" (scanner).');
    expect(first.stdout).toMatch(/device_id {2}dev_[0-9a-f]+/);
    expect(first.stdout).toContain('shown once — store it now');
    const token = /token {6}(\S+)/.exec(first.stdout)?.[1];
    expect(token).toMatch(/^edt_/);
    // The printed token really is a device token.
    expect((await server.client(token!).post('/api/v1/scanning/scan', { code: 'x' })).body.error).toBe('INVALID_BODY');

    const phone = await cli(
      ['devices', 'register', '--name', 'Phone Ann', '--type', 'mobile', '--device-id', 'phone-ann'],
      env,
    );
    expect(phone.stdout).toContain('Registered device "Phone Ann" (mobile).');
    expect(phone.stdout).toContain('device_id  phone-ann');

    const twice = await cli(['devices', 'register', '--name', 'Again', '--device-id', 'phone-ann'], env);
    expect(twice).toMatchObject({ code: 1, stderr: 'error: device_id "phone-ann" is already registered (CONFLICT)\n' });
    const badKey = await cli(['devices', 'register', '--name', 'Keyed', '--public-key', 'short'], env);
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toMatch(/^error: .*public_key.* \(INVALID_BODY\)\n$/);

    const list = await cli(['devices', 'list'], env);
    expect(list.code).toBe(0);
    const [header, ...rows] = list.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^DEVICE ID\s+NAME\s+TYPE\s+STATUS\s+KEY\s+LAST SEEN\s+CREATED$/);
    expect(rows).toHaveLength(2);
    expect(rows.some((r) => /^phone-ann\s+Phone Ann\s+mobile\s+active\s+no\s+never\s+\d{4}-/.test(r))).toBe(true);
    expect(rows.some((r) => /^dev_[0-9a-f]+\s+North gate 1\s+scanner\s+active/.test(r))).toBe(true);
  });

  it('needs an admin token', async () => {
    const r = await cli(['devices', 'list', '--url', server.url]);
    expect(r).toMatchObject({
      code: 1,
      stderr: 'error: no admin token: pass --token or set ENTRADA_ADMIN_TOKEN (`entrada serve` prints it on start)\n',
    });
    const wrong = await cli(['devices', 'list', '--url', server.url, '--token', 'eat_wrong']);
    expect(wrong).toMatchObject({ code: 1, stderr: 'error: Invalid admin token (UNAUTHORIZED)\n' });
  });
});
