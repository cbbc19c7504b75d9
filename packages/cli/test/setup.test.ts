import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  issueTickets,
  registerDevice,
  seedEvent,
  type SeededEvent,
  type TestServer,
} from '../../server/test/harness.ts';
import { cli, SLOW, startServerForTests } from './helpers.ts';

let server: TestServer;
let close: () => Promise<void>;
let ev: SeededEvent;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  ({ server, close } = await startServerForTests());
  ev = await seedEvent(server.admin, { starts_at: '2026-08-01T10:00', ends_at: '2026-08-03T02:00' });
  env = { ENTRADA_URL: server.url, ENTRADA_ADMIN_TOKEN: server.adminToken };
}, SLOW);
afterAll(() => close());

describe('entrada: changing set-up', () => {
  it("updates an event, printing its times in the event's time zone, and answers --json for scripts", async () => {
    const r = await cli(['events', 'update', ev.eventId, '--name', 'Summer Fest', '--starts', '2026-08-01T18:00'], env);
    expect(r).toMatchObject({
      code: 0,
      stdout: 'Updated event "Summer Fest": 2026-08-01 18:00 → 2026-08-03 02:00 (Europe/Amsterdam).\n',
    });
    const j = await cli(['events', 'update', ev.eventId, '--name', 'Summer Fest 2026', '--json'], env);
    expect(JSON.parse(j.stdout)).toMatchObject({
      id: ev.eventId,
      name: 'Summer Fest 2026',
      starts_at: '2026-08-01T16:00:00.000Z',
    });
    expect(await cli(['events', 'update', ev.eventId], env)).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: nothing to change: give at least one of --name/),
    });
    const bad = await cli(['events', 'update', ev.eventId, '--ends', '2020-01-01T00:00'], env);
    expect(bad).toMatchObject({ code: 1, stderr: 'error: /ends_at must be after /starts_at (INVALID_BODY)\n' });
  });

  it('turns manifest ticket codes on only with a warning that says the risk, and off again without one', async () => {
    const on = await cli(['events', 'update', ev.eventId, '--manifest-ticket-codes', 'on', '--json'], env);
    expect(on.code).toBe(0);
    expect(on.stderr).toMatch(/^warning: .*a lost or stolen scanner hands them out/);
    expect(JSON.parse(on.stdout).settings).toMatchObject({ manifest_ticket_codes: true });
    const off = await cli(['events', 'update', ev.eventId, '--manifest-ticket-codes', 'off', '--json'], env);
    expect(off).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(off.stdout).settings).toMatchObject({ manifest_ticket_codes: false });
    expect((await cli(['events', 'update', ev.eventId, '--manifest-ticket-codes', 'maybe'], env)).code).not.toBe(0);
  });

  it('adds, updates and removes zones, gates and types by name, and explains what blocks a removal', async () => {
    expect(
      (await cli(['zones', 'add', '--event', ev.eventId, '--name', 'Balcony', '--capacity', '300'], env)).stdout,
    ).toMatch(/^Added zone "Balcony" \([0-9a-f-]{36}\)\.\n$/);
    expect((await cli(['zones', 'update', 'balcony', '--event', ev.eventId, '--capacity', 'none'], env)).stdout).toBe(
      'Updated zone "Balcony": capacity none.\n',
    );
    expect(
      (await cli(['gates', 'add', '--event', ev.eventId, '--name', 'Upstairs', '--zones', 'Balcony'], env)).code,
    ).toBe(0);
    const unknownZone = await cli(['gates', 'update', 'Upstairs', '--event', ev.eventId, '--zones', 'Roof'], env);
    expect(unknownZone.stderr).toBe(
      `error: no zone "Roof" in event Summer Fest 2026; its zones are "General", "VIP", "Balcony" (\`entrada events show ${ev.eventId}\` lists them with their ids)\n`,
    );
    expect((await cli(['gates', 'update', 'Upstairs', '--event', ev.eventId, '--closed'], env)).stdout).toMatch(
      /^Updated gate "Upstairs" \(closed\)\./,
    );
    const blocked = await cli(['zones', 'rm', 'Balcony', '--event', ev.eventId], env);
    expect(blocked).toMatchObject({
      code: 1,
      stderr: 'error: The zone cannot be deleted: 1 gate admits to this zone; take it off them first (CONFLICT)\n',
    });
    expect((await cli(['gates', 'rm', 'Upstairs', '--event', ev.eventId], env)).code).toBe(0);
    expect((await cli(['zones', 'rm', 'Balcony', '--event', ev.eventId], env)).stdout).toMatch(
      /^Deleted zone "Balcony"/,
    );

    expect(
      (
        await cli(
          [
            'types',
            'add',
            '--event',
            ev.eventId,
            '--name',
            'Weekend',
            '--zones',
            'General',
            '--max-scans',
            '2',
            '--reentry',
          ],
          env,
        )
      ).code,
    ).toBe(0);
    const t = await cli(
      [
        'types',
        'update',
        'Weekend',
        '--event',
        ev.eventId,
        '--max-scans',
        '1',
        '--no-reentry',
        '--valid-from',
        '2026-08-01T12:00',
      ],
      env,
    );
    expect(t.stdout).toBe(
      'Updated ticket type "Weekend": one entry, valid 2026-08-01 12:00 – … (Europe/Amsterdam).\nScanners get the change with their next download.\n',
    );
    await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.multi }]);
    const typeBlocked = await cli(['types', 'rm', '3-day', '--event', ev.eventId], env);
    expect(typeBlocked.stderr).toBe(
      'error: The ticket type cannot be deleted: 1 ticket of this type exists; cancel or move them first (CONFLICT)\n',
    );
    expect((await cli(['types', 'rm', 'Weekend', '--event', ev.eventId, '--json'], env)).stdout).toMatch(
      /"deleted": "[0-9a-f-]{36}"/,
    );
  });

  it('searches, unblocks and reinstates tickets', async () => {
    const [a, b] = await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga, holder_name: 'Grace Hopper', number: 'G-1' },
      { ticket_type_id: ev.types.ga, holder_name: 'Alan Turing', number: 'G-2' },
    ]);
    const found = await cli(['tickets', 'search', 'hopper', '--event', ev.eventId], env);
    expect(found.stdout.split('\n')[0]).toMatch(/^TICKET ID\s+NUMBER\s+TYPE\s+HOLDER\s+STATUS\s+SCANS\s+INSIDE$/);
    expect(found.stdout).toMatch(new RegExp(`^${a!.id}\\s+G-1\\s+GA\\s+Grace Hopper\\s+valid\\s+0/1\\s+no$`, 'm'));
    const paged = await cli(['tickets', 'search', 'G-', '--event', ev.eventId, '--limit', '1', '--json'], env);
    expect(JSON.parse(paged.stdout)).toMatchObject({ tickets: [{ number: 'G-1' }], next_cursor: expect.any(String) });
    const none = await cli(['tickets', 'search', 'nobody', '--event', ev.eventId], env);
    expect(none.stdout).toMatch(/^No ticket of Summer Fest 2026 matches "nobody"/);

    await server.admin.post(`/api/v1/tickets/${a!.id}/block`, { reason: 'fraud check' });
    await server.admin.post(`/api/v1/tickets/${b!.id}/cancel`, { reason: 'refund' });
    expect(await cli(['tickets', 'unblock', a!.id, '--reason', 'ID checked'], env)).toMatchObject({
      code: 0,
      stdout: 'Ticket G-1 is valid again (unblocked: ID checked).\n',
    });
    expect((await cli(['tickets', 'unblock', b!.id, '--reason', 'x'], env)).stderr).toBe(
      'error: The ticket is cancelled, not blocked: reinstate it instead (CONFLICT)\n',
    );
    expect((await cli(['tickets', 'reinstate', b!.id, '--reason', 'refund reversed'], env)).code).toBe(0);
    const device = await registerDevice(server.admin, 'North 7');
    const staff = await server.admin.post(`/api/v1/events/${ev.eventId}/staff`, {
      username: 'kim',
      name: 'Kim Lee',
      pin: '2468',
    });
    expect(staff.status).toBe(201);
    // Kim logged in on the scanner, then nobody: the same ticket again.
    for (const staffId of [staff.body.id, undefined])
      await server.client(device.token).post('/api/v1/scanning/scan', {
        code: b!.code,
        event_id: ev.eventId,
        gate_id: ev.gates.main,
        ...(staffId ? { staff_id: staffId } : {}),
      });
    const shown = await cli(['tickets', 'show', b!.id], env);
    const lines = shown.stdout.split('\n');
    expect(lines[0]).toBe(`Ticket G-2 (${b!.id}), GA, Alan Turing: valid (refund reversed), 1/1 scans, inside`);
    // Cancelled, then reinstated: both changes, oldest first.
    expect(lines.slice(1, 4)).toEqual([
      'Status changes:',
      expect.stringMatching(/^ {2}\d{4}-\d\d-\d\d \d\d:\d\d {2}cancelled$/),
      expect.stringMatching(/^ {2}\d{4}-\d\d-\d\d \d\d:\d\d {2}valid$/),
    ]);
    expect(lines[4]).toMatch(
      /^TIME \(Europe\/Amsterdam\)\s+GATE\s+DEVICE\s+STAFF\s+DIRECTION\s+VERDICT\s+REASON\s+SOURCE$/,
    );
    expect(lines[5]).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d\s+Main\s+North 7\s+Kim Lee\s+entry\s+valid\s+admitted\s+online$/,
    );
    expect(lines[6]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d\s+Main\s+North 7\s+-\s+entry\s+duplicate\s+\w+\s+online$/);
    const json = JSON.parse((await cli(['tickets', 'show', b!.id, '--json'], env)).stdout);
    expect(
      json.scans.map((sc: { staff_id: string | null; staff_name: string | null }) => [sc.staff_id, sc.staff_name]),
    ).toEqual([
      [staff.body.id, 'Kim Lee'],
      [null, null],
    ]);
    expect((await cli(['tickets', 'reinstate', crypto.randomUUID(), '--reason', 'x'], env)).stderr).toMatch(
      /^error: ticket .* not found for this admin token; find it with `entrada tickets search/,
    );
  });

  it('renames a device and sets its gate', async () => {
    const d = await registerDevice(server.admin, 'Scanner 1');
    expect((await cli(['devices', 'rename', d.deviceId, 'North 1'], env)).stdout).toBe(
      `Renamed device ${d.deviceId} to "North 1".\n`,
    );
    expect((await cli(['devices', 'set-gate', d.deviceId, ev.gates.main], env)).stdout).toBe(
      `Device "North 1" starts at gate ${ev.gates.main}.\n`,
    );
    expect((await cli(['devices', 'set-gate', d.deviceId, 'none'], env)).stdout).toBe(
      'Device "North 1" has no default gate.\n',
    );
    expect((await cli(['devices', 'rename', 'no-such-device', 'x'], env)).stderr).toBe(
      'error: device "no-such-device" not found; `entrada devices list` shows your devices\' ids\n',
    );
  });

  it("shows the audit log with times in the event's zone, paged, and as JSON", async () => {
    const r = await cli(['audit', '--event', ev.eventId], env);
    expect(r.code).toBe(0);
    const [header, ...lines] = r.stdout.split('\n');
    expect(header).toMatch(/^TIME \(Europe\/Amsterdam\)\s+BY\s+ACTION\s+SUBJECT\s+CHANGE$/);
    // By the admin token's name, not its id (the id is in --json's actor).
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d\s+ENTRADA_ADMIN_TOKEN\s+event.create\s+/);
    expect(lines.find((l) => l.includes('event.update'))).toMatch(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+ENTRADA_ADMIN_TOKEN\\s+event.update\\s+${ev.eventId}\\s+name: "Test Event" → "Summer Fest"`,
      ),
    );
    expect(r.stdout).toContain('zone.delete');
    const page = await cli(['audit', '--event', ev.eventId, '--limit', '2'], env);
    const more = /More: entrada audit --event \S+ --cursor (\S+)/.exec(page.stdout);
    expect(more).not.toBeNull();
    const all = JSON.parse((await cli(['audit', '--event', ev.eventId, '--limit', '500', '--json'], env)).stdout);
    expect(all.entries[0]).toMatchObject({
      actor: expect.stringMatching(/^token:[0-9a-f-]{36}$/),
      actor_name: 'ENTRADA_ADMIN_TOKEN',
    });
    const next = JSON.parse(
      (await cli(['audit', '--event', ev.eventId, '--limit', '2', '--cursor', more![1]!, '--json'], env)).stdout,
    );
    expect(next.entries.map((e: { id: string }) => e.id)).toEqual(
      all.entries.slice(2, 4).map((e: { id: string }) => e.id),
    );
  });
});
