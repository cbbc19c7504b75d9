/**
 * Issue 14 §2, seed 004's "insufficient inventory" at a venue: zone capacity per zone (off | warn | enforce),
 * online. Core's golden capacity vectors played through the API on both backends, then the cases a
 * vector cannot hold: an exit frees a place, concurrent gates never take more places than there are.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import vectors from '@entrada/core/vectors/capacity.json' with { type: 'json' };
import { readCapacityVectors, type OnlineCapacityVector } from '@entrada/core';
import {
  describeEachBackend,
  issueTickets,
  registerDevice,
  startTestServer,
  type Client,
  type TestDatabase,
  type TestServer,
} from './harness.ts';
import { TestDevice } from './offline-helpers.ts';

const { online } = readCapacityVectors(vectors);

describeEachBackend('zone capacity', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let scanner: Client;

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db);
    scanner = server.client((await registerDevice(server.admin, 'Capacity gate')).token);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  const now = Date.now();
  const newEvent = async (name: string): Promise<string> =>
    (
      await server.admin.post('/api/v1/events', {
        name,
        starts_at: new Date(now - 86_400_000).toISOString(),
        ends_at: new Date(now + 86_400_000).toISOString(),
        timezone: 'Europe/Amsterdam',
      })
    ).body.id;
  const post = async (path: string, body: Record<string, unknown>): Promise<string> => {
    const r = await server.admin.post(path, body);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.id;
  };
  const patchZone = async (eventId: string, zoneId: string, body: Record<string, unknown>) => {
    const r = await server.admin.request('PATCH', `/api/v1/events/${eventId}/zones/${zoneId}`, body);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };
  const scan = (eventId: string, gateId: string, code: string, direction: 'entry' | 'exit' = 'entry', by = scanner) =>
    by.post('/api/v1/scanning/scan', { code, event_id: eventId, gate_id: gateId, direction });
  const flagsOf = async (scanId: string): Promise<string[]> =>
    (await tdb.db.query<{ flags: string[] }>('SELECT flags::text[] AS flags FROM scans WHERE id = $1', [scanId]))[0]!
      .flags;

  describe('golden capacity vectors', () => {
    it.each(online.map((v) => [v.name, v] as const))('%s', async (_name, v: OnlineCapacityVector) => {
      const eventId = await newEvent(v.name);
      // Zones named as in the vector, counted "off" while they are filled.
      const zoneIds = new Map<string, string>();
      for (const z of v.zones)
        zoneIds.set(z.id, await post(`/api/v1/events/${eventId}/zones`, { name: z.id, capacity: z.capacity }));
      const ids = (names: string[]) => names.map((n) => zoneIds.get(n)!);
      for (const z of v.zones) {
        if (z.inside === 0) continue;
        const gate = await post(`/api/v1/events/${eventId}/gates`, { name: `fill ${z.id}`, zone_ids: ids([z.id]) });
        const type = await post(`/api/v1/events/${eventId}/ticket-types`, {
          name: `only ${z.id}`,
          zone_ids: ids([z.id]),
        });
        const people = await issueTickets(
          server.admin,
          eventId,
          Array.from({ length: z.inside }, () => ({ ticket_type_id: type })),
        );
        for (const p of people) expect((await scan(eventId, gate, p.code)).body.result).toBe('valid');
      }
      for (const z of v.zones)
        expect(await patchZone(eventId, zoneIds.get(z.id)!, { capacity_mode: z.mode })).toMatchObject({
          capacity_mode: z.mode,
        });
      const gate = await post(`/api/v1/events/${eventId}/gates`, { name: 'the gate', zone_ids: ids(v.gateZones) });
      const type = await post(`/api/v1/events/${eventId}/ticket-types`, {
        name: 'the type',
        zone_ids: ids(v.typeZones),
      });
      const [t] = await issueTickets(server.admin, eventId, [{ ticket_type_id: type }]);
      const r = await scan(eventId, gate, t!.code, v.direction);
      expect(r.status).toBe(200);
      expect({ result: r.body.result, reason: r.body.reason, over_capacity: r.body.over_capacity ?? [] }).toEqual(
        v.expect,
      );
      expect(await flagsOf(r.body.scan_id)).toEqual(v.expect.over_capacity.length > 0 ? ['over_capacity'] : []);
    });
  });

  it('refuses an entry into a full enforcing zone in words, and admits it once someone has left', async () => {
    const eventId = await newEvent('exit frees a place');
    const zone = await post(`/api/v1/events/${eventId}/zones`, { name: 'Pit', capacity: 1, capacity_mode: 'enforce' });
    const gate = await post(`/api/v1/events/${eventId}/gates`, { name: 'Pit gate', zone_ids: [zone] });
    const type = await post(`/api/v1/events/${eventId}/ticket-types`, {
      name: 'Pit',
      zone_ids: [zone],
      allow_reentry: true,
    });
    const [a, b] = await issueTickets(server.admin, eventId, [{ ticket_type_id: type }, { ticket_type_id: type }]);
    expect((await scan(eventId, gate, a!.code)).body).toMatchObject({ result: 'valid', reason: 'admitted' });
    const refused = await scan(eventId, gate, b!.code);
    expect(refused.body).toMatchObject({
      result: 'not_valid_now',
      reason: 'zone_full',
      message: 'Pit is full (1/1) — wait for someone to leave',
    });
    expect((await server.admin.get(`/api/v1/tickets/${b!.id}`)).body).toMatchObject({ scans_used: 0, inside: false });
    expect((await scan(eventId, gate, a!.code, 'exit')).body).toMatchObject({ result: 'valid', reason: 'exited' });
    expect((await scan(eventId, gate, b!.code)).body).toMatchObject({ result: 'valid', reason: 'admitted' });
    // The re-entry of the one who left now finds the zone full: a re-entry takes a place like any entry.
    expect((await scan(eventId, gate, a!.code)).body).toMatchObject({ result: 'not_valid_now', reason: 'zone_full' });
    // The manifest and the event carry the mode.
    const detail = (await server.admin.get(`/api/v1/events/${eventId}`)).body;
    expect(detail.zones).toEqual([{ id: zone, name: 'Pit', capacity: 1, capacity_mode: 'enforce' }]);
  });

  // Control (run by hand on PostgreSQL): without the zones' advisory lock in ScanService.write, 4 to 6 of the 12 got in.
  it('lets concurrent gates take no more places than the zone has', async () => {
    const eventId = await newEvent('concurrent gates');
    const zone = await post(`/api/v1/events/${eventId}/zones`, { name: 'Hall', capacity: 3, capacity_mode: 'enforce' });
    const gates = await Promise.all(
      [0, 1, 2, 3].map((i) => post(`/api/v1/events/${eventId}/gates`, { name: `Hall ${i}`, zone_ids: [zone] })),
    );
    const type = await post(`/api/v1/events/${eventId}/ticket-types`, { name: 'Hall', zone_ids: [zone] });
    const people = await issueTickets(
      server.admin,
      eventId,
      Array.from({ length: 12 }, () => ({ ticket_type_id: type })),
    );
    const devices = await Promise.all(
      gates.map(async (_, i) => server.client((await registerDevice(server.admin, `Hall scanner ${i}`)).token)),
    );
    const answers = await Promise.all(
      people.map((p, i) => scan(eventId, gates[i % 4]!, p.code, 'entry', devices[i % 4]!)),
    );
    expect(answers.map((r) => r.status)).toEqual(people.map(() => 200));
    expect(answers.filter((r) => r.body.result === 'valid')).toHaveLength(3);
    expect(answers.filter((r) => r.body.reason === 'zone_full')).toHaveLength(9);
    const occ = (await server.admin.get(`/api/v1/events/${eventId}/occupancy`)).body;
    expect(occ.zones.find((z: { id: string }) => z.id === zone)).toMatchObject({ inside: 3, capacity: 3 });
  });

  describe('offline admissions over capacity', () => {
    /** One event with a zone of capacity 2; three devices each admitted one person offline, a minute apart. */
    const world = async (mode: 'warn' | 'enforce', name: string) => {
      const eventId = await newEvent(name);
      const zone = await post(`/api/v1/events/${eventId}/zones`, { name: 'Hall', capacity: 2, capacity_mode: mode });
      const gate = await post(`/api/v1/events/${eventId}/gates`, { name: 'Hall gate', zone_ids: [zone] });
      const type = await post(`/api/v1/events/${eventId}/ticket-types`, { name: 'Hall', zone_ids: [zone] });
      const people = await issueTickets(
        server.admin,
        eventId,
        [0, 1, 2].map(() => ({ ticket_type_id: type })),
      );
      const devices: TestDevice[] = [];
      for (let i = 0; i < 3; i++) {
        const d = await registerDevice(server.admin, `${name} ${i}`);
        devices.push(new TestDevice(server.client(d.token), d.deviceId, eventId));
      }
      const t0 = now - 3_600_000;
      devices.forEach((d, i) => d.scan({ code: people[i]!.code, at: t0 + i * 60_000, gateId: gate }));
      return { eventId, zone, gate, people, devices, t0 };
    };
    const flagged = async (eventId: string) =>
      await tdb.db.query<{ device_id: string; ticket_id: string }>(
        `SELECT device_id, ticket_id FROM scans WHERE event_id = $1 AND 'over_capacity' = ANY(flags) ORDER BY device_id`,
        [eventId],
      );

    it('keeps every admission and flags the latest by scan time, whatever the upload order, and raises the alert', async () => {
      const outcomes: unknown[] = [];
      for (const [n, order] of [
        [0, [2, 0, 1]],
        [1, [0, 1, 2]],
        [2, [1, 2, 0]],
      ] as const) {
        const w = await world('warn', `offline order ${n}`);
        for (const i of order) {
          const r = await w.devices[i]!.upload();
          expect(r.status).toBe(200);
          // Never refused for capacity: the person is inside.
          expect(r.body.results[0]).toMatchObject({ sync_status: 'synced', verdict: 'admitted' });
        }
        const marked = await flagged(w.eventId);
        expect(marked).toEqual([{ device_id: w.devices[2]!.deviceId, ticket_id: w.people[2]!.id }]);
        for (const p of w.people)
          expect((await server.admin.get(`/api/v1/tickets/${p.id}`)).body).toMatchObject({
            scans_used: 1,
            inside: true,
          });
        expect(await server.services.alerts.evaluate(w.eventId)).toBe(true);
        const alerts = (await server.admin.get(`/api/v1/events/${w.eventId}/alerts?state=open`)).body.alerts.filter(
          (a: { rule: string }) => a.rule === 'zone_over_capacity',
        );
        expect(alerts).toEqual([
          expect.objectContaining({
            subject: expect.objectContaining({ id: w.zone, name: 'Hall' }),
            detail: { inside: 3, capacity: 2 },
          }),
        ]);
        outcomes.push(marked.length);
      }
      expect(outcomes).toEqual([1, 1, 1]);
    });

    it('moves the flag when an earlier exit arrives late, and never refuses in enforce mode', async () => {
      const w = await world('enforce', 'offline exit');
      for (const d of w.devices) expect((await d.upload()).body.results[0]).toMatchObject({ verdict: 'admitted' });
      expect(await flagged(w.eventId)).toHaveLength(1);
      // The first person had left before the third came in: nobody took the hall over its capacity.
      w.devices[0]!.scan({ code: w.people[0]!.code, at: w.t0 + 90_000, gateId: w.gate, direction: 'exit' });
      expect((await w.devices[0]!.upload(2, 2)).body.results[0]).toMatchObject({ verdict: 'admitted' });
      expect(await flagged(w.eventId)).toEqual([]);
    });
  });
});
