/**
 * Order independence, as a property: random offline scans from several devices
 * over a few tickets, uploaded in random order, batching and with repeats,
 * always end in the same admissions, conflicts and counts as a pure reference
 * replay of all scans through core's rules. Device 0 uploads without seqs, as a
 * seed 001 client does (issue 14 §1): its scans are identified by (device,
 * qrcode, scanned_at), and repeating its uploads stores nothing twice. The main
 * gate may be closed within the scans' window (issue 14 §2): its later entries
 * are gate_closed conflicts. The general zone holds one person (capacity mode
 * warn): the entries flagged over_capacity are core's overCapacityEntries over
 * the reference admissions. Tickets may be blocked and unblocked, or cancelled
 * and reinstated, at times within the scans' window while the devices are
 * offline (issue 14 §2): each scan is judged on the status at its time, which
 * the reference reads from the same changes with core's ticketStatusAt.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  entryZones,
  isInside,
  overCapacityEntries,
  replayTicket,
  type CapacityAdmission,
  type Direction,
  type GatePolicy,
  type ReplayScan,
  type TicketStatusChange,
  type TicketTypePolicy,
} from '@entrada/core';
import {
  describeEachBackend,
  issueTickets,
  registerDevice,
  seedEvent,
  startTestServer,
  type TestDatabase,
  type TestServer,
} from './harness.ts';
import { TestDevice } from './offline-helpers.ts';

const DEVICES = 3;
/** This device sends no seq (a keyless seed-001 client). */
const UNSEQUENCED = 0;
const TICKETS = 3;
const T0 = Date.parse('2026-07-01T18:00:00Z');

interface ScanSpec {
  ticket: number;
  offsetS: number;
  direction: Direction;
  gate: 'main' | 'any' | 'vip';
}
interface Plan {
  logs: ScanSpec[][];
  uploads: Array<{ device: number; from: number; to: number }>;
}

const scanSpec: fc.Arbitrary<ScanSpec> = fc.record({
  ticket: fc.integer({ min: 0, max: TICKETS - 1 }),
  // A narrow window makes double reads, ties and re-entries common.
  offsetS: fc.integer({ min: 0, max: 900 }),
  direction: fc.constantFrom<Direction>('entry', 'entry', 'exit'),
  gate: fc.constantFrom<'main' | 'any' | 'vip'>('main', 'main', 'any', 'vip'),
});

/** Logs per device, then uploads: every seq covered at least once, in random contiguous batches, shuffled, some repeated. */
const plan: fc.Arbitrary<Plan> = fc
  .array(fc.array(scanSpec, { minLength: 1, maxLength: 6 }), { minLength: DEVICES, maxLength: DEVICES })
  // One device cannot scan one ticket twice in one millisecond: for the unsequenced device that is one scan by identity.
  .map((logs) =>
    logs.map((log, i) =>
      i === UNSEQUENCED
        ? log.filter((s, j) => log.findIndex((o) => o.ticket === s.ticket && o.offsetS === s.offsetS) === j)
        : log,
    ),
  )
  .chain((logs) => {
    const cuts = logs.map((log) => fc.array(fc.boolean(), { minLength: log.length - 1, maxLength: log.length - 1 }));
    return fc.tuple(
      fc.constant(logs),
      fc.tuple(...cuts),
      fc.array(fc.nat(), { maxLength: 4 }),
      fc.array(fc.nat(), { minLength: 30, maxLength: 30 }),
    );
  })
  .map(([logs, cuts, repeats, shuffle]) => {
    const uploads: Plan['uploads'] = [];
    logs.forEach((log, device) => {
      let from = 1;
      for (let seq = 1; seq <= log.length; seq++) {
        if (seq === log.length || cuts[device]![seq - 1]) {
          uploads.push({ device, from, to: seq });
          from = seq + 1;
        }
      }
    });
    for (const r of repeats) uploads.push(uploads[r % uploads.length]!);
    // Deterministic shuffle from the generated numbers (fast-check shrinks it).
    for (let i = uploads.length - 1; i > 0; i--) {
      const j = shuffle[i % shuffle.length]! % (i + 1);
      [uploads[i], uploads[j]] = [uploads[j]!, uploads[i]!];
    }
    return { logs, uploads };
  });

/** Per ticket: the instants (s after T0) its status flips, and whether it is blocked (else cancelled) in between. */
interface StatusPlan {
  flipsS: number[];
  blocked: boolean;
}
const statusPlans: fc.Arbitrary<StatusPlan[]> = fc.array(
  fc.record({
    flipsS: fc
      .uniqueArray(fc.integer({ min: 0, max: 900 }), { maxLength: 3 })
      .map((xs) => [...xs].sort((a, b) => a - b)),
    blocked: fc.boolean(),
  }),
  { minLength: TICKETS, maxLength: TICKETS },
);

/** A ticket's status changes: off (blocked or cancelled) at the first flip, valid again at the second, and so on. */
function statusChanges(p: StatusPlan): TicketStatusChange[] {
  return p.flipsS.map((s, i) => ({
    at: T0 + s * 1000,
    status: i % 2 === 1 ? 'valid' : p.blocked ? 'blocked' : 'cancelled',
  }));
}

describeEachBackend('offline reconciliation is order-independent', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  // The server clock: real time, except while a gate is being closed at a generated time (closing stamps it).
  let clock: number | null = null;

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db, { now: () => clock ?? Date.now() });
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  it('ends in the reference replay whatever the upload order, batching or repetition', async () => {
    // Main is closed within the scans' window, or never: the entries scanned there from then on are gate_closed.
    await fc.assert(
      fc.asyncProperty(
        plan,
        fc.option(fc.integer({ min: 0, max: 900 })),
        statusPlans,
        async (p, closeMainS, statuses) => {
          const ev = await seedEvent(server.admin, {
            starts_at: '2026-07-01T10:00:00Z',
            ends_at: '2026-07-02T10:00:00Z',
          });
          // Capacity 1, warn: every admission stands, the ones that took the zone over it are flagged.
          expect(
            (
              await server.admin.request('PATCH', `/api/v1/events/${ev.eventId}/zones/${ev.zones.general}`, {
                capacity: 1,
                capacity_mode: 'warn',
              })
            ).status,
          ).toBe(200);
          if (closeMainS !== null) {
            clock = T0 + closeMainS * 1000;
            expect(
              (
                await server.admin.request('PATCH', `/api/v1/events/${ev.eventId}/gates/${ev.gates.main}`, {
                  closed: true,
                })
              ).status,
            ).toBe(200);
            clock = null;
          }
          const typeIds = [ev.types.ga, ev.types.reentry, ev.types.multi];
          const tickets = await issueTickets(
            server.admin,
            ev.eventId,
            typeIds.map((ticket_type_id) => ({ ticket_type_id })),
          );
          // The status changes, made while the devices are offline (before any upload), each stamped at its time.
          const changesOf = statuses.map(statusChanges);
          for (const [ti, changes] of changesOf.entries()) {
            let from = 'valid';
            for (const c of changes) {
              clock = c.at;
              const call =
                c.status === 'valid'
                  ? from === 'blocked'
                    ? 'unblock'
                    : 'reinstate'
                  : c.status === 'blocked'
                    ? 'block'
                    : 'cancel';
              expect(
                (await server.admin.post(`/api/v1/tickets/${tickets[ti]!.id}/${call}`, { reason: 'property' })).status,
              ).toBe(200);
              from = c.status;
            }
          }
          clock = null;
          const devices: TestDevice[] = [];
          for (let i = 0; i < DEVICES; i++) {
            const d = await registerDevice(server.admin, `Prop ${i}`);
            devices.push(new TestDevice(server.client(d.token), d.deviceId, ev.eventId));
          }
          const gateIds = { main: ev.gates.main, any: ev.gates.any, vip: ev.gates.vip };
          p.logs.forEach((log, i) =>
            log.forEach((s) =>
              devices[i]!.scan({
                code: tickets[s.ticket]!.code,
                at: T0 + s.offsetS * 1000,
                direction: s.direction,
                gateId: gateIds[s.gate],
              }),
            ),
          );

          for (const u of p.uploads) {
            const d = devices[u.device]!;
            if (u.device !== UNSEQUENCED) {
              expect((await d.upload(u.from, u.to)).status).toBe(200);
              continue;
            }
            const body = d.body(u.from, u.to);
            body.scans = (body.scans as Array<Record<string, unknown>>).map(({ seq: _seq, ...rest }) => rest);
            expect((await d.client.post('/api/v1/offline/sync', body)).status).toBe(200);
          }
          // A scan of the unsequenced device is named by what identifies it; the others by their seq.
          const refOf = (deviceIndex: number, s: { seq: number; qrcode: string; scannedAt: number }): string =>
            deviceIndex === UNSEQUENCED
              ? `${devices[deviceIndex]!.deviceId}@${s.qrcode}@${s.scannedAt}`
              : `${devices[deviceIndex]!.deviceId}#${s.seq}`;

          // Reference: core's replay over every scan of each ticket.
          const detail = (await server.admin.get(`/api/v1/events/${ev.eventId}`)).body as {
            timezone: string;
            settings: { duplicate_window_s: number };
            gates: Array<{ id: string; zone_ids: string[]; closed_at: string | null }>;
            zones: Array<{ id: string; capacity: number | null; capacity_mode: 'off' | 'warn' | 'enforce' }>;
            ticket_types: Array<{
              id: string;
              name: string;
              zone_ids: string[];
              max_scans: number;
              allow_reentry: boolean;
            }>;
          };
          const gates = new Map<string, GatePolicy>(
            detail.gates.map((g) => [
              g.id,
              { id: g.id, zoneIds: g.zone_ids, closedAt: g.closed_at === null ? null : Date.parse(g.closed_at) },
            ]),
          );
          const types = new Map<string, TicketTypePolicy>(
            detail.ticket_types.map((t) => [
              t.id,
              {
                id: t.id,
                name: t.name,
                zoneIds: t.zone_ids,
                maxScans: t.max_scans,
                allowReentry: t.allow_reentry,
                validFrom: null,
                validUntil: null,
              },
            ]),
          );
          const expectedStatus = new Map<string, string>();
          const expectedConflicts = new Map<string, string>();
          const expectedTickets = new Map<string, { entries: number; inside: boolean }>();
          const admissions: CapacityAdmission[] = [];
          const allZones = detail.zones.map((z) => z.id);
          tickets.forEach((t, ti) => {
            const scans: Array<ReplayScan & { ref: string }> = [];
            devices.forEach((d, di) =>
              d.log.forEach((s) => {
                if (s.qrcode === t.code) {
                  scans.push({
                    ref: refOf(di, s),
                    at: s.scannedAt,
                    deviceId: d.deviceId,
                    seq: di === UNSEQUENCED ? null : s.seq,
                    direction: s.direction,
                    gate: gates.get(s.gateId!)!,
                  });
                }
              }),
            );
            const { outcomes, state } = replayTicket(
              {
                event: {
                  id: ev.eventId,
                  timezone: detail.timezone,
                  duplicateWindowMs: detail.settings.duplicate_window_s * 1000,
                },
                ticket: {
                  id: t.id,
                  eventId: ev.eventId,
                  status: changesOf[ti]!.at(-1)?.status ?? 'valid',
                  statusChangedAt: changesOf[ti]!.at(-1)?.at ?? null,
                  statusHistory: changesOf[ti],
                },
                type: types.get(typeIds[ti]!)!,
              },
              scans,
            );
            for (const o of outcomes) {
              expectedStatus.set(o.scan.ref!, o.verdict.admits ? 'admitted' : 'conflict');
              if (o.verdict.admits) {
                admissions.push({
                  ref: o.scan.ref!,
                  ticketId: t.id,
                  at: o.scan.at,
                  deviceId: o.scan.deviceId,
                  seq: o.scan.seq,
                  direction: o.scan.direction,
                  zones:
                    o.scan.direction === 'entry'
                      ? entryZones(o.scan.gate!.zoneIds, types.get(typeIds[ti]!)!.zoneIds, allZones)
                      : [],
                });
              }
              if (!o.verdict.admits)
                expectedConflicts.set(o.scan.ref!, `${o.verdict.reason}>${o.verdict.previous?.ref ?? '-'}`);
            }
            expectedTickets.set(t.id, { entries: state.entries, inside: isInside(state) });
          });

          const byId = new Map<string, string>();
          const codeOf = new Map(tickets.map((t) => [t.id, t.code]));
          const rows = await tdb.db.query<{
            id: string;
            device_id: string;
            seq: number | null;
            ticket_id: string;
            at: number;
            record_status: string;
          }>(
            `SELECT id, device_id, seq::float8 AS seq, ticket_id, (extract(epoch FROM scanned_at) * 1000)::float8 AS at, record_status
         FROM scans WHERE event_id = $1`,
            [ev.eventId],
          );
          const refOfRow = (r: (typeof rows)[number]): string =>
            r.seq === null
              ? `${r.device_id}@${codeOf.get(r.ticket_id)}@${Math.round(r.at)}`
              : `${r.device_id}#${r.seq}`;
          for (const r of rows) byId.set(r.id, refOfRow(r));
          // Every scan stored once, however often its upload was repeated (with or without a seq).
          expect(rows).toHaveLength(p.logs.flat().length);
          expect(new Map(rows.map((r) => [refOfRow(r), r.record_status]))).toEqual(expectedStatus);

          const conflicts = await tdb.db.query<{
            loser_scan_id: string;
            winner_scan_id: string | null;
            reason: string;
          }>(`SELECT loser_scan_id, winner_scan_id, reason FROM conflicts WHERE event_id = $1 AND status = 'open'`, [
            ev.eventId,
          ]);
          expect(
            new Map(
              conflicts.map((c) => [
                byId.get(c.loser_scan_id)!,
                `${c.reason}>${c.winner_scan_id ? byId.get(c.winner_scan_id) : '-'}`,
              ]),
            ),
          ).toEqual(expectedConflicts);

          const expectedFlagged = overCapacityEntries(
            admissions,
            detail.zones.map((z) => ({ id: z.id, capacity: z.capacity, mode: z.capacity_mode })),
          );
          const flagged = await tdb.db.query<{ id: string }>(
            `SELECT id FROM scans WHERE event_id = $1 AND 'over_capacity' = ANY(flags)`,
            [ev.eventId],
          );
          expect(new Set(flagged.map((f) => byId.get(f.id)))).toEqual(expectedFlagged);

          for (const t of tickets) {
            const view = (await server.admin.get(`/api/v1/tickets/${t.id}`)).body;
            expect({ entries: view.scans_used, inside: view.inside }).toEqual(expectedTickets.get(t.id));
          }
          for (const [i, d] of devices.entries()) {
            const status = (await d.client.get(`/api/v1/offline/sync/status/${ev.eventId}/${d.deviceId}`)).body;
            // Without seqs nothing is acknowledged by seq: the device keeps the answers per scan instead.
            expect(status).toMatchObject({ acked_through: i === UNSEQUENCED ? 0 : d.log.length, missing: [] });
          }
        },
      ),
      { numRuns: backend.name === 'pglite' ? 40 : 20, endOnFailure: true },
    );
  }, 300_000);
});
