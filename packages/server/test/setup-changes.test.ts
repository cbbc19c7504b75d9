import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { existingZoneIds } from '../src/store/events.ts';
import {
  describeEachBackend,
  describePostgres,
  freshPostgresDatabase,
  issueTickets,
  registerDevice,
  seedEvent,
  startTestServer,
  type Client,
  type Reply,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from './harness.ts';

const patch = (c: Client, path: string, body: unknown): Promise<Reply> => c.request('PATCH', path, body);
const del = (c: Client, path: string): Promise<Reply> => c.request('DELETE', path);

describeEachBackend('set-up that can be changed', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  let other: { token: string; admin: Client; ev: SeededEvent };

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db);
    ev = await seedEvent(server.admin);
    // A second organisation, with its own token and event.
    const org = await server.admin.post('/api/v1/organisations', { name: 'Other Org' });
    expect(org.status).toBe(201);
    const admin = server.client(org.body.admin_token);
    other = { token: org.body.admin_token, admin, ev: await seedEvent(admin) };
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  // prettier-ignore
  const detail = async (eventId = ev.eventId): Promise<Record<string, any>> => (await server.admin.get(`/api/v1/events/${eventId}`)).body; // eslint-disable-line @typescript-eslint/no-explicit-any
  const audit = async (eventId = ev.eventId, query = ''): Promise<Reply> =>
    server.admin.get(`/api/v1/events/${eventId}/audit${query}`);
  // prettier-ignore
  async function lastAudit(action: string): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const entries: Array<Record<string, unknown>> = [];
    let cursor: string | null = null;
    do {
      const page: Reply = await audit(ev.eventId, `?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
      entries.push(...page.body.entries);
      cursor = page.body.next_cursor;
    } while (cursor);
    const hit = entries.filter((e) => e.action === action).at(-1);
    if (!hit) throw new Error(`no ${action} entry`);
    return hit;
  }

  describe('PATCH', () => {
    it('changes an event, read in its (new) time zone, and audits what changed', async () => {
      const { eventId } = await seedEvent(server.admin, { name: 'Typo Fest' });
      const r = await patch(server.admin, `/api/v1/events/${eventId}`, {
        name: 'Tipo Fest',
        timezone: 'Europe/London',
        starts_at: '2026-08-01T19:00',
        ends_at: '2026-08-02T02:00',
        settings: { duplicate_window_s: 30 },
      });
      expect(r.status).toBe(200);
      const d = await detail(eventId);
      expect(d).toMatchObject({
        name: 'Tipo Fest',
        timezone: 'Europe/London',
        starts_at: '2026-08-01T18:00:00.000Z',
        settings: { duplicate_window_s: 30 },
      });
      const page = await audit(eventId);
      // The set-up made through the API is audited too, oldest first.
      expect(page.body.entries.slice(0, 10).map((e: { action: string }) => e.action)).toEqual([
        'event.create',
        'zone.create',
        'zone.create',
        'gate.create',
        'gate.create',
        'gate.create',
        'ticket_type.create',
        'ticket_type.create',
        'ticket_type.create',
        'ticket_type.create',
      ]);
      expect(page.body.entries[1]).toMatchObject({ before: null, after: { name: 'General', capacity: 100 } });
      const entry = page.body.entries.find((e: { action: string }) => e.action === 'event.update');
      expect(entry).toMatchObject({
        actor: expect.stringMatching(/^token:[0-9a-f-]{36}$/),
        subject_kind: 'event',
        subject_id: eventId,
        before: { name: 'Typo Fest', timezone: 'Europe/Amsterdam' },
        after: { name: 'Tipo Fest', timezone: 'Europe/London', starts_at: '2026-08-01T18:00:00.000Z' },
      });
    });

    it('changes a zone, a gate (closing it), a ticket type, a staff member and a device', async () => {
      expect(
        (await patch(server.admin, `/api/v1/events/${ev.eventId}/zones/${ev.zones.vip}`, { capacity: 250 })).body,
      ).toMatchObject({ capacity: 250 });
      const g = await patch(server.admin, `/api/v1/events/${ev.eventId}/gates/${ev.gates.any}`, {
        name: 'Any Door',
        closed: true,
      });
      expect(g.status).toBe(200);
      const t = await patch(server.admin, `/api/v1/events/${ev.eventId}/ticket-types/${ev.types.multi}`, {
        max_scans: 2,
        valid_from: '2026-08-01T10:00',
        allow_reentry: true,
      });
      expect(t.status).toBe(200);
      const d = await detail();
      expect(d.zones.find((z: { id: string }) => z.id === ev.zones.vip).capacity).toBe(250);
      expect(d.gates.find((x: { id: string }) => x.id === ev.gates.any)).toMatchObject({
        name: 'Any Door',
        closed: true,
        closed_at: expect.any(String),
      });
      expect(d.ticket_types.find((x: { id: string }) => x.id === ev.types.multi)).toMatchObject({
        max_scans: 2,
        allow_reentry: true,
        valid_from: '2026-08-01T08:00:00.000Z',
      });
      expect(await lastAudit('zone.update')).toMatchObject({ before: { capacity: 100 }, after: { capacity: 250 } });
      expect((await lastAudit('ticket_type.update')).after).toEqual({
        max_scans: 2,
        allow_reentry: true,
        valid_from: '2026-08-01T08:00:00.000Z',
      });
      // Reopened.
      expect(
        (await patch(server.admin, `/api/v1/events/${ev.eventId}/gates/${ev.gates.any}`, { closed: false })).body,
      ).toMatchObject({ closed: false, closed_at: null });

      const staff = await server.admin.post(`/api/v1/events/${ev.eventId}/staff`, {
        username: 'ann',
        name: 'Ann',
        pin: '1234',
      });
      const s = await patch(server.admin, `/api/v1/events/${ev.eventId}/staff/${staff.body.id}`, {
        name: 'Ann B.',
        pin: '987654',
        active: false,
      });
      expect(s.body).toMatchObject({ name: 'Ann B.', active: false });
      expect((await lastAudit('staff.create')).after).toEqual({
        id: staff.body.id,
        username: 'ann',
        name: 'Ann',
        active: true,
      });
      const staffEntry = await lastAudit('staff.update');
      expect(staffEntry.after).toEqual({ name: 'Ann B.', active: false, pin_changed: true });
      expect(JSON.stringify(staffEntry)).not.toMatch(/scrypt|987654|1234|pin_hash/);

      const device = await registerDevice(server.admin, 'Scanner A', { event_ids: [ev.eventId] });
      const dv = await patch(server.admin, `/api/v1/devices/${device.deviceId}`, {
        name: 'Scanner North',
        default_gate_id: ev.gates.main,
      });
      expect(dv.status).toBe(200);
      const listed = (await server.admin.get('/api/v1/devices')).body.devices.find(
        (x: { device_id: string }) => x.device_id === device.deviceId,
      );
      expect(listed).toMatchObject({
        name: 'Scanner North',
        default_event_id: ev.eventId,
        default_gate_id: ev.gates.main,
      });
      const devEntry = await lastAudit('device.update');
      expect(devEntry.after).toEqual({
        name: 'Scanner North',
        default_event_id: ev.eventId,
        default_gate_id: ev.gates.main,
      });
      expect(JSON.stringify(devEntry)).not.toContain(device.token);
      // A gate of another organisation's event is not one of ours.
      const foreign = await patch(server.admin, `/api/v1/devices/${device.deviceId}`, {
        default_gate_id: other.ev.gates.main,
      });
      expect(foreign.body).toEqual({
        error: 'INVALID_BODY',
        message: '/default_gate_id is not a gate of any of your events',
      });
    });

    it('answers 400 INVALID_BODY naming the field, and applies nothing of a refused change', async () => {
      const types = `/api/v1/events/${ev.eventId}/ticket-types/${ev.types.ga}`;
      const before = await detail();
      const window = await patch(server.admin, types, {
        name: 'Renamed',
        valid_from: '2026-08-01T20:00',
        valid_until: '2026-08-01T19:00',
      });
      expect(window.body).toEqual({ error: 'INVALID_BODY', message: '/valid_until must be after /valid_from' });
      const zones = await patch(server.admin, types, { name: 'Renamed', zone_ids: [crypto.randomUUID()] });
      expect(zones.status).toBe(400);
      expect(zones.body.message).toMatch(/^\/zone_ids: unknown zone/);
      expect((await patch(server.admin, types, { max_scans: 0 })).body.message).toMatch(/^\/max_scans/);
      expect((await patch(server.admin, types, {})).body).toEqual({
        error: 'INVALID_BODY',
        message: '(body) must name at least one field to change',
      });
      expect((await patch(server.admin, types, { colour: 'red' })).body.message).toMatch(/colour/);
      expect((await patch(server.admin, types, { name: 'a\u0000b' })).body.message).toBe(
        '/name must not contain U+0000 or an unpaired UTF-16 surrogate',
      );
      const ev2 = await patch(server.admin, `/api/v1/events/${ev.eventId}`, {
        name: 'Renamed',
        ends_at: '2020-01-01T00:00Z',
      });
      expect(ev2.body).toEqual({ error: 'INVALID_BODY', message: '/ends_at must be after /starts_at' });
      expect(
        (await patch(server.admin, `/api/v1/events/${ev.eventId}`, { timezone: 'Mars/Olympus' })).body.message,
      ).toMatch(/^\/timezone/);
      // A name another zone has: 409, and the capacity given with it is not applied either.
      const clash = await patch(server.admin, `/api/v1/events/${ev.eventId}/zones/${ev.zones.vip}`, {
        name: 'General',
        capacity: 1,
      });
      expect(clash.status).toBe(409);
      const after = await detail();
      expect(after.name).toBe(before.name);
      expect(after.ticket_types).toEqual(before.ticket_types);
      expect(after.zones).toEqual(before.zones);
      // Nothing refused was audited.
      const all = (await audit(ev.eventId, '?limit=500')).body.entries;
      expect(all.some((e: { after: { name?: string } | null }) => e.after?.name === 'Renamed')).toBe(false);
    });

    it('keeps other organisations out: their ids are 404 here, ours 404 there', async () => {
      const mine = server.admin;
      expect((await patch(mine, `/api/v1/events/${other.ev.eventId}`, { name: 'x' })).status).toBe(404);
      expect(
        (await patch(mine, `/api/v1/events/${other.ev.eventId}/zones/${other.ev.zones.vip}`, { capacity: 1 })).status,
      ).toBe(404);
      expect(
        (await patch(mine, `/api/v1/events/${ev.eventId}/zones/${other.ev.zones.vip}`, { capacity: 1 })).status,
      ).toBe(404);
      expect((await del(mine, `/api/v1/events/${other.ev.eventId}/ticket-types/${other.ev.types.vip}`)).status).toBe(
        404,
      );
      expect((await del(other.admin, `/api/v1/events/${ev.eventId}/gates/${ev.gates.vip}`)).status).toBe(404);
      expect((await other.admin.get(`/api/v1/events/${ev.eventId}/audit`)).status).toBe(404);
      expect((await other.admin.get(`/api/v1/events/${ev.eventId}/tickets?q=1`)).status).toBe(404);
      const [t] = await issueTickets(mine, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
      await mine.post(`/api/v1/tickets/${t!.id}/block`, { reason: 'x' });
      expect((await other.admin.post(`/api/v1/tickets/${t!.id}/unblock`, { reason: 'x' })).status).toBe(404);
      expect(
        (
          await other.admin.request('PATCH', `/api/v1/devices/${(await registerDevice(mine, 'Mine')).deviceId}`, {
            name: 'x',
          })
        ).status,
      ).toBe(404);
      const o = await detail(ev.eventId);
      expect(o.zones.find((z: { id: string }) => z.id === ev.zones.vip).capacity).not.toBe(1);
    });
  });

  describe('reaching devices', () => {
    it('carries a changed type, gate and zone in the next manifest delta (fails without the event_changed announce)', async () => {
      const e = await seedEvent(server.admin, { name: 'Manifest' });
      await issueTickets(server.admin, e.eventId, [{ ticket_type_id: e.types.multi }]);
      const d = await registerDevice(server.admin, 'Manifest scanner');
      const device = server.client(d.token);
      // prettier-ignore
      const get = async (since?: string): Promise<Record<string, any>> => { // eslint-disable-line @typescript-eslint/no-explicit-any
        const r = await device.get(`/api/v1/offline/manifest/${e.eventId}?device_id=${d.deviceId}${since ? `&since=${encodeURIComponent(since)}` : ''}`);
        expect(r.status).toBe(200);
        return r.body.manifest;
      };
      const first = await get();
      expect(first.ticket_types.find((t: { id: string }) => t.id === e.types.multi).max_scans).toBe(3);
      await patch(server.admin, `/api/v1/events/${e.eventId}/ticket-types/${e.types.multi}`, { max_scans: 1 });
      await patch(server.admin, `/api/v1/events/${e.eventId}/gates/${e.gates.vip}`, {
        zone_ids: [e.zones.general],
        closed: true,
      });
      await patch(server.admin, `/api/v1/events/${e.eventId}/zones/${e.zones.general}`, { name: 'Floor' });
      const delta = await get(first.cursor);
      expect(delta.full).toBe(false);
      expect(delta.ticket_types.find((t: { id: string }) => t.id === e.types.multi).max_scans).toBe(1);
      expect(delta.gates.find((g: { id: string }) => g.id === e.gates.vip)).toMatchObject({
        zone_ids: [e.zones.general],
        closed_at: expect.any(String),
      });
      expect(delta.zones.find((z: { id: string }) => z.id === e.zones.general).name).toBe('Floor');
    });
  });

  describe('DELETE', () => {
    it('deletes what nothing depends on, and answers 409 naming what does', async () => {
      const e = await seedEvent(server.admin, { name: 'Delete Me' });
      const base = `/api/v1/events/${e.eventId}`;
      // The VIP zone is named by the VIP gate and the VIP type.
      const zone = await del(server.admin, `${base}/zones/${e.zones.vip}`);
      expect(zone.body).toEqual({
        error: 'CONFLICT',
        message:
          'The zone cannot be deleted: 1 gate admits to this zone and 1 ticket type grants it; take it off them first',
      });
      await issueTickets(server.admin, e.eventId, [
        { ticket_type_id: e.types.ga },
        { ticket_type_id: e.types.ga },
        { ticket_type_id: e.types.ga },
      ]);
      const type = await del(server.admin, `${base}/ticket-types/${e.types.ga}`);
      expect(type.body).toEqual({
        error: 'CONFLICT',
        message: 'The ticket type cannot be deleted: 3 tickets of this type exist; cancel or move them first',
      });
      const code = await server.admin.post('/api/v1/devices/pairing-codes', {
        event_id: e.eventId,
        gate_id: e.gates.main,
      });
      expect(code.status).toBe(201);
      expect((await del(server.admin, `${base}/gates/${e.gates.main}`)).body.message).toBe(
        'The gate cannot be deleted: 1 pairing code name it. Close it instead (closed: true)',
      );
      expect((await del(server.admin, base)).body.message).toMatch(
        /^The event cannot be deleted: 3 tickets, 1 pairing code belong to it/,
      );

      expect((await del(server.admin, `${base}/ticket-types/${e.types.vip}`)).status).toBe(204);
      expect((await del(server.admin, `${base}/gates/${e.gates.vip}`)).status).toBe(204);
      expect((await del(server.admin, `${base}/zones/${e.zones.vip}`)).status).toBe(204);
      const staff = await server.admin.post(`${base}/staff`, { username: 'bob', name: 'Bob', pin: '1234' });
      expect((await del(server.admin, `${base}/staff/${staff.body.id}`)).status).toBe(204);
      const d = await detail(e.eventId);
      expect(d.zones.map((z: { name: string }) => z.name)).toEqual(['General']);
      expect(d.gates.map((g: { name: string }) => g.name)).toEqual(['Main', 'Any']);
      expect(d.ticket_types.map((t: { name: string }) => t.name)).toEqual(['GA', 'Re-entry', '3-day']);
      const deleted = (await audit(e.eventId, '?limit=500')).body.entries.filter((x: { action: string }) =>
        x.action.endsWith('.delete'),
      );
      expect(deleted.map((x: { action: string }) => x.action)).toEqual([
        'ticket_type.delete',
        'gate.delete',
        'zone.delete',
        'staff.delete',
      ]);
      expect(deleted[2]).toMatchObject({ before: { name: 'VIP', capacity: 100 }, after: null });
    });

    it('deletes an event with set-up only, with its zones, gates, types and staff', async () => {
      const e = await seedEvent(server.admin, { name: 'Never Happened' });
      await server.admin.post(`/api/v1/events/${e.eventId}/staff`, { username: 'cy', name: 'Cy', pin: '1234' });
      const device = await registerDevice(server.admin, 'Scoped', { event_ids: [e.eventId, ev.eventId] });
      expect((await del(server.admin, `/api/v1/events/${e.eventId}`)).status).toBe(204);
      expect((await server.admin.get(`/api/v1/events/${e.eventId}`)).status).toBe(404);
      const listed = (await server.admin.get('/api/v1/devices')).body.devices.find(
        (x: { device_id: string }) => x.device_id === device.deviceId,
      );
      expect(listed.event_ids).toEqual([ev.eventId]);
    });
  });

  describe('tickets: unblock, reinstate, search, history', () => {
    it('unblocks and reinstates with a reason, refusing the wrong undo, and audits both', async () => {
      const [a, b] = await issueTickets(server.admin, ev.eventId, [
        { ticket_type_id: ev.types.ga },
        { ticket_type_id: ev.types.ga },
      ]);
      await server.admin.post(`/api/v1/tickets/${a!.id}/block`, { reason: 'suspicious' });
      await server.admin.post(`/api/v1/tickets/${b!.id}/cancel`, { reason: 'refunded' });
      expect((await server.admin.post(`/api/v1/tickets/${a!.id}/reinstate`, { reason: 'x' })).body).toEqual({
        error: 'CONFLICT',
        message: 'The ticket is blocked, not cancelled: unblock it instead',
      });
      expect((await server.admin.post(`/api/v1/tickets/${a!.id}/unblock`, {})).body.message).toMatch(/reason/);
      const un = await server.admin.post(`/api/v1/tickets/${a!.id}/unblock`, { reason: 'checked ID' });
      expect(un.body).toMatchObject({
        status: 'valid',
        status_reason: 'checked ID',
        status_changed_at: expect.any(String),
      });
      const re = await server.admin.post(`/api/v1/tickets/${b!.id}/reinstate`, { reason: 'refund reversed' });
      expect(re.body).toMatchObject({ status: 'valid', status_reason: 'refund reversed' });
      expect(await lastAudit('ticket.unblock')).toMatchObject({
        subject_id: a!.id,
        before: { status: 'blocked', status_reason: 'suspicious' },
        after: { status: 'valid', status_reason: 'checked ID' },
      });
      expect((await lastAudit('ticket.block')).subject_id).toBe(a!.id);
      // Scanning admits it again.
      const device = await registerDevice(server.admin, 'Gate scanner');
      const scan = await server
        .client(device.token)
        .post('/api/v1/scanning/scan', { code: b!.code, event_id: ev.eventId, gate_id: ev.gates.main });
      expect(scan.body.result).toBe('valid');
      const history = await server.admin.get(`/api/v1/tickets/${b!.id}`);
      expect(history.body.scans).toEqual([
        expect.objectContaining({
          result: 'valid',
          reason: 'admitted',
          gate_id: ev.gates.main,
          gate_name: 'Main',
          device_id: device.deviceId,
          device_name: 'Gate scanner',
          source: 'online',
        }),
      ]);
    });

    it('searches by number prefix, holder name and whole code, in pages', async () => {
      const e = await seedEvent(server.admin, { name: 'Search', settings: { offline_holder_names: true } });
      const people = [
        'Ada Lovelace',
        'Grace Hopper',
        'Alan Turing',
        'Barbara Liskov',
        'Edsger Dijkstra',
        'Donald Knuth',
        'Ada Yonath',
      ];
      const issued = await issueTickets(server.admin, e.eventId, [
        ...people.map((holder_name, i) => ({ ticket_type_id: e.types.ga, holder_name, number: `A-${100 + i}` })),
        { ticket_type_id: e.types.ga, number: 'B-1', code: 'IMPORTED-CODE-0001' },
        { ticket_type_id: e.types.ga, number: '50%_off' },
      ]);
      const search = async (q: string, extra = ''): Promise<Reply> =>
        server.admin.get(`/api/v1/events/${e.eventId}/tickets?q=${encodeURIComponent(q)}${extra}`);
      expect((await search('A-10')).body.tickets.map((t: { number: string }) => t.number)).toEqual([
        'A-100',
        'A-101',
        'A-102',
        'A-103',
        'A-104',
        'A-105',
        'A-106',
      ]);
      expect((await search('ada')).body.tickets.map((t: { holder_name: string }) => t.holder_name)).toEqual([
        'Ada Lovelace',
        'Ada Yonath',
      ]);
      expect((await search('HOPP')).body.tickets.map((t: { number: string }) => t.number)).toEqual(['A-101']);
      expect((await search('imported-code-0001 ')).body.tickets).toEqual([]);
      expect((await search('IMPORTED-CODE-0001')).body.tickets.map((t: { number: string }) => t.number)).toEqual([
        'B-1',
      ]);
      expect((await search(issued[2]!.code)).body.tickets.map((t: { holder_name: string }) => t.holder_name)).toEqual([
        'Alan Turing',
      ]);
      // LIKE's wildcards are taken literally.
      expect((await search('50%')).body.tickets.map((t: { number: string }) => t.number)).toEqual(['50%_off']);
      expect((await search('%')).body.tickets).toEqual([]);
      expect((await search('_')).body.tickets).toEqual([]);
      expect(JSON.stringify((await search('A-')).body)).not.toContain(issued[0]!.code);
      // Pages of 3, stable, covering every match once.
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r: Reply = await search('A-', `&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        expect(r.status).toBe(200);
        seen.push(...r.body.tickets.map((t: { number: string }) => t.number));
        cursor = r.body.next_cursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen).toEqual(['A-100', 'A-101', 'A-102', 'A-103', 'A-104', 'A-105', 'A-106']);
      expect((await search('A-', '&cursor=nonsense')).body).toEqual({
        error: 'INVALID_BODY',
        message: 'cursor is not one this server gave; start again without it',
      });
      // Without q: the export, as before.
      expect((await server.admin.get(`/api/v1/events/${e.eventId}/tickets?limit=2`)).body).toMatchObject({
        next_after: 2,
      });
    });
  });

  describe('audit log', () => {
    it('pages in a stable (at, id) order without gaps or repeats', async () => {
      const e = await seedEvent(server.admin, { name: 'Audited' });
      for (let i = 0; i < 7; i++) {
        expect(
          (await patch(server.admin, `/api/v1/events/${e.eventId}/zones/${e.zones.general}`, { capacity: 200 + i }))
            .status,
        ).toBe(200);
      }
      const all: Array<{ id: string; action: string; after: { capacity: number } }> = [];
      let cursor: string | null = null;
      do {
        const r: Reply = await audit(e.eventId, `?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(r.status).toBe(200);
        expect(r.body.entries.length).toBeLessThanOrEqual(2);
        all.push(...r.body.entries);
        cursor = r.body.next_cursor;
      } while (cursor);
      const updates = all.filter((x: { action?: string }) => x.action === 'zone.update');
      expect(updates.map((x) => x.after.capacity)).toEqual([200, 201, 202, 203, 204, 205, 206]);
      // 10 set-up entries from seedEvent, then the 7 updates; each once.
      expect(all).toHaveLength(17);
      expect(new Set(all.map((x) => x.id)).size).toBe(17);
      expect((await audit(e.eventId, '?limit=0')).status).toBe(400);
      expect((await audit(e.eventId, '?cursor=abc')).body.error).toBe('INVALID_BODY');
    });

    it("names each entry's actor: a signed-in user by name, an admin token by its name (revoked too), none when gone", async () => {
      const e = await seedEvent(server.admin, { name: 'Who did it' });
      const zone = `/api/v1/events/${e.eventId}/zones/${e.zones.general}`;
      // A console session (real HTTP: cookie and CSRF token).
      const password = 'correct horse battery staple';
      const user = await server.admin.post('/api/v1/users', {
        email: 'uma@example.com',
        name: 'Uma Manager',
        role: 'manager',
        password,
      });
      expect(user.status).toBe(201);
      const login = await server.httpClient(null).request('POST', '/api/v1/auth/login', {
        email: 'uma@example.com',
        password,
      });
      expect(login.status).toBe(200);
      const byUser = await server.httpClient(null).request(
        'PATCH',
        zone,
        { capacity: 301 },
        {
          cookie: login.headers.get('set-cookie')!.split(';')[0]!,
          'x-csrf-token': login.body.csrf_token,
        },
      );
      expect(byUser.status).toBe(200);
      // An admin token made for the box office, used, then revoked: the entries it wrote still name it.
      const made = await server.admin.post('/api/v1/tokens', { name: 'Box office laptop', role: 'manager' });
      expect(made.status).toBe(201);
      expect((await patch(server.client(made.body.token), zone, { capacity: 302 })).status).toBe(200);
      expect((await del(server.admin, `/api/v1/tokens/${made.body.id}`)).status).toBe(200);
      // Actors that name no one (any more): a token id with no row, and the demo's 'system'.
      const [org] = await tdb.db.query<{ organisation_id: string }>(
        `SELECT organisation_id FROM events WHERE id = $1`,
        [e.eventId],
      );
      // Written a minute and two after the rest (distinct times: the order is (at, id), and ids are random).
      for (const [i, actor] of [`token:${crypto.randomUUID()}`, 'system'].entries())
        await tdb.db.query(
          `INSERT INTO audit_log (organisation_id, event_id, actor, action, subject_kind, subject_id, at)
           VALUES ($1, $2, $3, 'zone.update', 'zone', $4, now() + make_interval(mins => $5))`,
          [org!.organisation_id, e.eventId, actor, e.zones.general, i + 1],
        );

      const entries = (await audit(e.eventId, '?limit=500')).body.entries as Array<{
        actor: string;
        actor_name: string | null;
        action: string;
      }>;
      const updates = entries.filter((x) => x.action === 'zone.update');
      expect(updates.map((x) => [x.actor.replace(/[0-9a-f-]{36}$/, 'ID'), x.actor_name])).toEqual([
        ['user:ID', 'Uma Manager'],
        ['token:ID', 'Box office laptop'],
        ['token:ID', null],
        ['system', null],
      ]);
      expect(updates[0]!.actor).toBe(`user:${user.body.id}`);
      expect(updates[1]!.actor).toBe(`token:${made.body.id}`);
      // The set-up seedEvent wrote, by the server's own token.
      expect(entries.find((x) => x.action === 'event.create')).toMatchObject({ actor_name: 'ENTRADA_ADMIN_TOKEN' });
    });
  });
});

describePostgres('set-up changes under concurrency', () => {
  let drop: () => Promise<void>;
  let db: Database;
  let server: TestServer;

  beforeAll(async () => {
    const fresh = await freshPostgresDatabase();
    drop = fresh.drop;
    db = openPostgres({ connectionString: fresh.url, maxConnections: 10 });
    server = await startTestServer(db);
  });
  afterAll(async () => {
    await server?.close();
    await db?.close();
    await drop?.();
  });

  it('a zone deleted while a gate is being given it either sees the gate (409) or is gone for it, never a gate naming a deleted zone', async () => {
    const ev = await seedEvent(server.admin);
    const balcony = (await server.admin.post(`/api/v1/events/${ev.eventId}/zones`, { name: 'Balcony' })).body
      .id as string;
    let deleted: Promise<Reply> | null = null;
    let settledEarly = false;
    await db.transaction(async (tx) => {
      // What a gate update does: check the zones (share-locked), then write the gate.
      expect(await existingZoneIds(tx, ev.eventId, [balcony])).toEqual(new Set([balcony]));
      deleted = del(server.admin, `/api/v1/events/${ev.eventId}/zones/${balcony}`);
      void deleted.then(() => {
        settledEarly = true;
      });
      await new Promise((r) => setTimeout(r, 300));
      await tx.query(`UPDATE gates SET zone_ids = array_append(zone_ids, $2::uuid) WHERE event_id = $1 AND id = $3`, [
        ev.eventId,
        balcony,
        ev.gates.any,
      ]);
      // Checked while the lock is held: once COMMIT releases it, the delete may finish before COMMIT's own answer is read.
      expect(settledEarly).toBe(false);
    });
    const r = await deleted!;
    expect(r.body).toEqual({
      error: 'CONFLICT',
      message: 'The zone cannot be deleted: 1 gate admits to this zone; take it off them first',
    });
  });
});
