/**
 * Issue 14 §2, seed 004's "location state change" at a venue: a gate closed at a time. Online entries at it
 * are refused `gate_closed`; offline entries scanned after the closing are kept as conflicts `gate_closed`
 * (resolvable like the others); entries scanned before it stand; exits stay free. Through the API, both backends.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeEachBackend,
  issueTickets,
  registerDevice,
  seedEvent,
  startTestServer,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from './harness.ts';
import { TestDevice } from './offline-helpers.ts';

describeEachBackend('closed gates', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let clock = Date.now();

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db, { now: () => clock });
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  /** A fresh event per test: closing a gate must not leak into another test's scans. */
  const fresh = async (): Promise<SeededEvent> => seedEvent(server.admin);
  const close = async (ev: SeededEvent, gateId: string, closed = true): Promise<string | null> => {
    const r = await server.admin.request('PATCH', `/api/v1/events/${ev.eventId}/gates/${gateId}`, { closed });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.closed_at as string | null;
  };
  const device = async (ev: SeededEvent, name: string): Promise<TestDevice> => {
    const d = await registerDevice(server.admin, name);
    return new TestDevice(server.client(d.token), d.deviceId, ev.eventId);
  };
  const conflictsOf = async (ev: SeededEvent, ticketId: string) =>
    (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts`)).body.conflicts.filter(
      (c: { ticket: { id: string } }) => c.ticket.id === ticketId,
    );

  it('refuses online entries at a closed gate, names the open gates, lets people out and admits again once reopened', async () => {
    const ev = await fresh();
    const d = await device(ev, 'Online gate');
    const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    const scan = (gateId: string, direction: 'entry' | 'exit' = 'entry') =>
      d.client.post('/api/v1/scanning/scan', { code: t!.code, event_id: ev.eventId, gate_id: gateId, direction });
    clock = Date.now();
    expect(await close(ev, ev.gates.main)).toBe(new Date(clock).toISOString());
    clock += 1_000;
    const refused = await scan(ev.gates.main);
    expect(refused.status).toBe(200);
    // Main is closed; VIP Gate does not admit to General; Any is open and does.
    expect(refused.body).toMatchObject({
      result: 'wrong_gate',
      reason: 'gate_closed',
      message: 'Gate closed — go to Any',
    });
    expect((await server.admin.get(`/api/v1/tickets/${t!.id}`)).body).toMatchObject({ scans_used: 0, inside: false });
    // The refusal is recorded for audit, like every refusal.
    const stored = (await server.admin.get(`/api/v1/tickets/${t!.id}`)).body.scans;
    expect(stored).toEqual([expect.objectContaining({ result: 'wrong_gate', reason: 'gate_closed' })]);

    clock += 1_000;
    expect((await scan(ev.gates.any)).body).toMatchObject({ result: 'valid', reason: 'admitted' });
    clock += 1_000;
    expect((await scan(ev.gates.main, 'exit')).body).toMatchObject({ result: 'valid', reason: 'exited' });

    // Control: the same ticket type at the same gate, reopened, is admitted (it was the closing that refused).
    const [u] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    expect(await close(ev, ev.gates.main, false)).toBeNull();
    clock += 1_000;
    const admitted = await d.client.post('/api/v1/scanning/scan', {
      code: u!.code,
      event_id: ev.eventId,
      gate_id: ev.gates.main,
    });
    expect(admitted.body).toMatchObject({ result: 'valid', reason: 'admitted' });
  });

  it('ships closed_at in the manifest', async () => {
    const ev = await fresh();
    const d = await device(ev, 'Manifest reader');
    clock = Date.now();
    const closedAt = await close(ev, ev.gates.vip);
    const m = await d.client.get(`/api/v1/offline/manifest/${ev.eventId}?device_id=${d.deviceId}`);
    expect(m.status).toBe(200);
    const gates = new Map((m.body.manifest.gates as Array<{ id: string; closed_at?: string }>).map((g) => [g.id, g]));
    expect(gates.get(ev.gates.vip)?.closed_at).toBe(closedAt);
    expect(gates.get(ev.gates.main)?.closed_at).toBeUndefined();
  });

  it('keeps offline entries scanned after the closing as gate_closed conflicts; earlier ones stand', async () => {
    const ev = await fresh();
    const d = await device(ev, 'Offline gate');
    const [before, after, exiting] = await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
    ]);
    clock = Date.now();
    const closedAt = clock - 10 * 60_000;
    clock = closedAt;
    await close(ev, ev.gates.main);
    clock = closedAt + 10 * 60_000;
    d.scan({ code: before!.code, at: closedAt - 1, gateId: ev.gates.main });
    d.scan({ code: after!.code, at: closedAt, gateId: ev.gates.main });
    d.scan({ code: exiting!.code, at: closedAt - 60_000, gateId: ev.gates.any });
    d.scan({ code: exiting!.code, at: closedAt + 60_000, gateId: ev.gates.main, direction: 'exit' });
    const r = await d.upload();
    expect(r.status).toBe(200);
    expect(r.body.results[0]).toMatchObject({ sync_status: 'synced', verdict: 'admitted' });
    expect(r.body.results[1]).toMatchObject({
      sync_status: 'conflict',
      status: 409,
      reason: 'gate_closed',
      message: 'Gate closed — no entry here',
    });
    expect(r.body.results[2]).toMatchObject({ sync_status: 'synced', verdict: 'admitted' });
    expect(r.body.results[3]).toMatchObject({ sync_status: 'synced', verdict: 'admitted' });
    expect(r.body.summary).toMatchObject({ total_uploaded: 4, conflicts: 1 });
    expect((await server.admin.get(`/api/v1/tickets/${before!.id}`)).body).toMatchObject({
      scans_used: 1,
      inside: true,
    });
    expect((await server.admin.get(`/api/v1/tickets/${after!.id}`)).body).toMatchObject({
      scans_used: 0,
      inside: false,
    });
    expect((await server.admin.get(`/api/v1/tickets/${exiting!.id}`)).body).toMatchObject({
      scans_used: 1,
      inside: false,
    });

    // Kept and shown to the organiser: a conflict with no winner (it lost to the closing, not to a scan).
    const [conflict] = await conflictsOf(ev, after!.id);
    expect(conflict).toMatchObject({
      reason: 'gate_closed',
      status: 'open',
      winner: null,
      loser: { device_id: d.deviceId, seq: 2 },
    });
    expect(await conflictsOf(ev, before!.id)).toEqual([]);
    // A re-upload is a duplicate that still says it lost.
    expect((await d.upload(2, 2)).body.results[0]).toMatchObject({ sync_status: 'duplicate', verdict: 'conflict' });
    // Resolvable like the others: accepted, the person is inside of record (a forced admission, which uses no entry).
    const resolved = await server.admin.post(`/api/v1/conflicts/${conflict.id}/resolve`, {
      resolution: 'legitimate',
      note: 'steward kept the side door open',
    });
    expect(resolved.status).toBe(200);
    expect((await server.admin.get(`/api/v1/tickets/${after!.id}`)).body).toMatchObject({ inside: true });
  });

  it('decides the same whatever the upload order: a refused entry at the closed gate uses no entry', async () => {
    const outcomes: unknown[] = [];
    for (const order of [
      ['closed', 'open'],
      ['open', 'closed'],
    ] as const) {
      const ev = await fresh();
      const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
      clock = Date.now() - 30 * 60_000;
      const closedAt = clock;
      await close(ev, ev.gates.main);
      clock = closedAt + 30 * 60_000;
      const devices = {
        closed: await device(ev, `At the closed gate ${order[0]}`),
        open: await device(ev, `At the open gate ${order[0]}`),
      };
      // The entry at the closed gate is the earlier one: if it counted, the later one would be already_used.
      devices.closed.scan({ code: t!.code, at: closedAt + 60_000, gateId: ev.gates.main });
      devices.open.scan({ code: t!.code, at: closedAt + 120_000, gateId: ev.gates.any });
      for (const which of order) expect((await devices[which].upload()).status).toBe(200);
      const ticket = (await server.admin.get(`/api/v1/tickets/${t!.id}`)).body;
      const conflicts = (await conflictsOf(ev, t!.id)).map((c: { reason: string; loser: { device_id: string } }) => ({
        reason: c.reason,
        loser: c.loser.device_id === devices.closed.deviceId ? 'closed' : 'open',
      }));
      outcomes.push({ scans_used: ticket.scans_used, inside: ticket.inside, conflicts });
    }
    expect(outcomes[0]).toEqual({
      scans_used: 1,
      inside: true,
      conflicts: [{ reason: 'gate_closed', loser: 'closed' }],
    });
    expect(outcomes[1]).toEqual(outcomes[0]);
  });

  it("lets gate staff escalate their device's conflict with a note, flagged in the conflicts list", async () => {
    const ev = await fresh();
    const d = await device(ev, 'Escalating gate');
    const other = await device(ev, 'Another gate');
    const [t, fine] = await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
    ]);
    clock = Date.now() - 10 * 60_000;
    await close(ev, ev.gates.main);
    clock += 10 * 60_000;
    d.scan({ code: fine!.code, at: clock - 11 * 60_000, gateId: ev.gates.main });
    d.scan({ code: t!.code, at: clock - 60_000, gateId: ev.gates.main, scanId: crypto.randomUUID() });
    expect((await d.upload()).body.results[1]).toMatchObject({ sync_status: 'conflict', reason: 'gate_closed' });
    const escalate = (by: TestDevice, body: Record<string, unknown>) =>
      by.client.post('/api/v1/offline/conflicts/escalate', { event_id: ev.eventId, ...body });

    // Only this device's own open conflict, named by one of seq or scan_id.
    expect((await escalate(other, { seq: 2, note: 'not mine' })).status).toBe(404);
    expect((await escalate(d, { seq: 1, note: 'this one won' })).status).toBe(404);
    expect((await escalate(d, { note: 'which scan?' })).status).toBe(400);
    expect((await escalate(d, { seq: 2, scan_id: d.log[1]!.scanId, note: 'both' })).status).toBe(400);
    expect((await escalate(d, { seq: 2, note: '' })).status).toBe(400);
    expect(
      (
        await server.admin.post('/api/v1/offline/conflicts/escalate', {
          event_id: ev.eventId,
          seq: 2,
          note: 'an organiser token is not a device',
        })
      ).status,
    ).toBe(401);

    const r = await escalate(d, { seq: 2, note: 'Side door was opened by security for this group' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      reason: 'gate_closed',
      escalated: true,
      escalation: { note: 'Side door was opened by security for this group', device_id: d.deviceId, staff_id: null },
    });
    // By the scan_id the device sent: the latest note replaces the first.
    expect(
      (await escalate(d, { scan_id: d.log[1]!.scanId, note: 'Group of 4, supervisor Sam' })).body.escalation.note,
    ).toBe('Group of 4, supervisor Sam');
    const [listed] = await conflictsOf(ev, t!.id);
    expect(listed).toMatchObject({
      escalated: true,
      escalation: { note: 'Group of 4, supervisor Sam', device_id: d.deviceId },
    });
    expect(Date.parse(listed.escalation.at)).not.toBeNaN();
    // The inbox filters on it: the escalated one only, and without it the rest.
    const filtered = async (flag: string): Promise<string[]> =>
      (
        (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts?escalated=${flag}`)).body.conflicts as Array<{
          id: string;
        }>
      ).map((c) => c.id);
    expect(await filtered('true')).toEqual([listed.id]);
    expect(await filtered('false')).not.toContain(listed.id);
    // Once resolved it is no longer open to escalation.
    await server.admin.post(`/api/v1/conflicts/${listed.id}/resolve`, { resolution: 'dismissed' });
    expect((await escalate(d, { seq: 2, note: 'again' })).status).toBe(404);
  });
});
