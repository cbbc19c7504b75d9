import {
  entryZones,
  isInside,
  overCapacityEntries,
  replayTicket,
  ticketStatusAt,
  type CapacityAdmission,
  type Direction,
  type GatePolicy,
  type ReplayScan,
  type TicketFacts,
  type TicketStatus,
  type TicketTypePolicy,
} from '@entrada/core';
import type { InjectClient } from './server-setup.ts';
import type { Sql } from '../../../server/src/db/database.ts';
import type { SyncStatus } from '../../src/sync-loop.ts';
import { MemoryStore, type MemoryBacking } from '../../src/storage/memory-store.ts';

export interface SimFacts {
  db: Sql;
  admin: InjectClient;
  eventId: string;
  tickets: Array<{ id: string; code: string; typeId: string }>;
  devices: Array<{
    index: number;
    deviceId: string;
    backing: MemoryBacking;
    ackSeen: number;
    status: Promise<SyncStatus>;
  }>;
  /** Control only: the reference replay ignores closed_at (a wrong reference the invariants must catch). */
  referenceIgnoresClosedAt?: boolean;
  /** Control only: the reference judges scans on each ticket's status now, without its status history. */
  referenceIgnoresStatusHistory?: boolean;
  /** Control only: the reference counts no zone's capacity. */
  referenceIgnoresCapacity?: boolean;
}

interface ScanRow {
  id: string;
  ticket_id: string | null;
  device_id: string;
  seq: number | null;
  scanned_at: Date;
  direction: Direction;
  gate_id: string | null;
  source: 'online' | 'offline';
  admits: boolean;
  reason: string;
  local_result: string | null;
  record_status: string;
  winner_scan_id: string | null;
  flags: string[];
}

/**
 * The offline design's invariants after the network healed (sync-protocol §8.10 B):
 * no committed scan lost, none duplicated, acknowledgements monotone and
 * complete, outboxes drained, admissions of record = a pure replay, and every
 * device's view of every ticket = the server's. With issue 14 §2: entries at a
 * closed gate from its closed_at on are gate_closed (conflicts if admitted
 * offline, refusals online) and none before it is; the over_capacity flags are
 * core's overCapacityEntries over the reference's admissions.
 */
export async function checkInvariants(f: SimFacts): Promise<string[]> {
  const v: string[] = [];
  const rows = await f.db.query<ScanRow>(
    `SELECT id, ticket_id, device_id, seq::float8 AS seq, scanned_at, direction, gate_id, source, admits, reason, local_result, record_status, winner_scan_id, flags
     FROM scans WHERE event_id = $1`,
    [f.eventId],
  );
  // Rows holding a device's seq: its offline scans, and online scans whose offline copy was uploaded (one physical scan, one row).
  const offlineRows = new Map<string, ScanRow[]>();
  for (const r of rows) {
    if (r.seq === null) continue;
    const k = `${r.device_id}#${r.seq}`;
    offlineRows.set(k, [...(offlineRows.get(k) ?? []), r]);
  }
  const onlineById = new Map(rows.filter((r) => r.source === 'online').map((r) => [r.id, r]));
  const nameOf = new Map(f.devices.map((d) => [d.deviceId, `device ${d.index}`]));
  const who = (deviceId: string): string => nameOf.get(deviceId) ?? deviceId;

  // 1–2. Every scan committed to an outbox is on the server exactly once, with its content; nothing else is.
  const expectedKeys = new Set<string>();
  const offlineCandidates: Array<ReplayScan & { ref: string; ticketId: string }> = [];
  const codeToTicket = new Map(f.tickets.map((t) => [t.code.toUpperCase(), t.id]));
  for (const d of f.devices) {
    const store = new MemoryStore(d.backing);
    const log = await store.all(f.eventId);
    const counts = await store.counts(f.eventId);
    log.forEach((s, i) => {
      if (s.seq !== i + 1) v.push(`${who(d.deviceId)}: outbox seq ${s.seq} at position ${i + 1} (not gap-free)`);
    });
    for (const s of log) {
      const k = `${d.deviceId}#${s.seq}`;
      expectedKeys.add(k);
      const found = offlineRows.get(k) ?? [];
      if (found.length === 0) {
        v.push(`LOST: ${who(d.deviceId)} seq ${s.seq} is in its outbox but not on the server`);
        continue;
      }
      if (found.length > 1)
        v.push(`DUPLICATED: ${who(d.deviceId)} seq ${s.seq} is on the server ${found.length} times`);
      const row = found[0]!;
      if (row.source === 'online') {
        // The offline copy of an online attempt the server had received: that row is this scan (its time is the server's).
        if (row.id !== s.scanId)
          v.push(`${who(d.deviceId)} seq ${s.seq}: held by online scan ${row.id}, not its own attempt ${s.scanId}`);
        if (!s.synced || !s.server)
          v.push(
            `${who(d.deviceId)} seq ${s.seq}: not drained (synced=${s.synced}, server result ${s.server ? 'kept' : 'missing'})`,
          );
        continue;
      }
      if (row.scanned_at.getTime() !== s.scannedAt || row.direction !== s.direction || row.gate_id !== s.gateId) {
        v.push(
          `${who(d.deviceId)} seq ${s.seq}: server has other content (${row.scanned_at.getTime()} ${row.direction} ${row.gate_id}) than the outbox (${s.scannedAt} ${s.direction} ${s.gateId})`,
        );
      }
      if (!s.synced || !s.server)
        v.push(
          `${who(d.deviceId)} seq ${s.seq}: not drained (synced=${s.synced}, server result ${s.server ? 'kept' : 'missing'})`,
        );
      // Offline candidate admissions: admitted locally (or undecided without a manifest) with a known ticket.
      const ticketId = s.ticketId ?? codeToTicket.get(s.qrcode.toUpperCase()) ?? null;
      if ((s.localResult === 'valid' || s.localResult === null) && ticketId) {
        offlineCandidates.push({
          ref: k,
          ticketId,
          at: s.scannedAt,
          deviceId: d.deviceId,
          seq: s.seq,
          direction: s.direction,
          gate: null,
          gateId: s.gateId,
        } as never);
        // One physical scan (online attempt timed out, then decided offline) must not admit twice.
        const twin = s.scanId ? onlineById.get(s.scanId) : undefined;
        if (twin && twin.admits && twin.record_status === 'admitted' && row.record_status === 'admitted') {
          v.push(
            `DOUBLE ADMISSION: ${who(d.deviceId)} seq ${s.seq} and its online attempt ${s.scanId} are both admissions of record`,
          );
        }
        // Nor be a conflict against itself (the server had its online attempt but did not recognise the copy).
        if (twin && (row.winner_scan_id === twin.id || twin.winner_scan_id === row.id)) {
          v.push(`SELF-CONFLICT: ${who(d.deviceId)} seq ${s.seq} conflicts with its own online attempt ${s.scanId}`);
        }
      }
    }
    if (counts.pending !== 0) v.push(`${who(d.deviceId)}: outbox not drained (${counts.pending} pending)`);

    // 3. acked_through: monotone (checked as responses arrived), and finally = the last seq, no gaps, on both sides.
    const status = await d.status;
    const lastSeq = counts.lastSeq;
    if (status.ackedThrough !== lastSeq)
      v.push(`${who(d.deviceId)}: device acked_through ${status.ackedThrough} != last seq ${lastSeq}`);
    if (status.missing.length > 0)
      v.push(`${who(d.deviceId)}: device still sees missing ${JSON.stringify(status.missing)}`);
    if (lastSeq > 0 && d.ackSeen !== lastSeq)
      v.push(`${who(d.deviceId)}: highest acked_through seen ${d.ackSeen} != last seq ${lastSeq}`);
    const srv = await f.admin.get(`/api/v1/offline/sync/status/${f.eventId}/${d.deviceId}`);
    if (lastSeq > 0) {
      if (srv.status !== 200) v.push(`${who(d.deviceId)}: sync status ${srv.status}`);
      else if (srv.body.acked_through !== lastSeq || JSON.stringify(srv.body.missing) !== '[]') {
        v.push(
          `${who(d.deviceId)}: server marks acked_through ${srv.body.acked_through} missing ${JSON.stringify(srv.body.missing)}, device last seq ${lastSeq}`,
        );
      }
    }
  }
  for (const k of offlineRows.keys())
    if (!expectedKeys.has(k)) v.push(`PHANTOM: server has a scan of ${k} that no outbox holds`);

  // 4. Admissions of record = pure replay of the candidates (online scans as the server decided them, plus offline ones).
  const detail = (await f.admin.get(`/api/v1/events/${f.eventId}`)).body as {
    timezone: string;
    settings: { duplicate_window_s: number };
    gates: Array<{ id: string; zone_ids: string[]; closed_at: string | null }>;
    zones: Array<{ id: string; capacity: number | null; capacity_mode: 'off' | 'warn' | 'enforce' }>;
    ticket_types: Array<{ id: string; name: string; zone_ids: string[]; max_scans: number; allow_reentry: boolean }>;
  };
  const closedAt = new Map(detail.gates.map((g) => [g.id, g.closed_at === null ? null : Date.parse(g.closed_at)]));
  const gates = new Map<string, GatePolicy>(
    detail.gates.map((g) => [
      g.id,
      {
        id: g.id,
        zoneIds: g.zone_ids,
        closedAt: f.referenceIgnoresClosedAt ? null : (closedAt.get(g.id) ?? null),
      },
    ]),
  );
  const allZones = detail.zones.map((z) => z.id);
  const conflictReason = new Map(
    (
      await f.db.query<{ loser_scan_id: string; reason: string }>(
        `SELECT loser_scan_id, reason FROM conflicts WHERE event_id = $1 AND status = 'open'`,
        [f.eventId],
      )
    ).map((c) => [c.loser_scan_id, c.reason]),
  );
  const admissions: CapacityAdmission[] = [];
  const rowOfRef = (ref: string): ScanRow | undefined =>
    ref.startsWith('online:') ? onlineById.get(ref.slice(7)) : offlineByKey.get(ref);
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
  const offlineByKey = new Map([...offlineRows].map(([k, list]) => [k, list[0]!]));
  const factsOf = new Map<string, TicketFacts>();
  for (const t of f.tickets) {
    const scans: Array<ReplayScan & { ref: string }> = [];
    for (const r of onlineById.values()) {
      if (r.ticket_id === t.id && r.admits) {
        scans.push({
          ref: `online:${r.id}`,
          at: r.scanned_at.getTime(),
          deviceId: r.device_id,
          seq: null,
          direction: r.direction,
          gate: r.gate_id ? gates.get(r.gate_id)! : null,
        });
      }
    }
    for (const c of offlineCandidates as Array<ReplayScan & { ref: string; ticketId: string; gateId: string | null }>) {
      if (c.ticketId === t.id)
        scans.push({
          ref: c.ref,
          at: c.at,
          deviceId: c.deviceId,
          seq: c.seq,
          direction: c.direction,
          gate: c.gateId ? gates.get(c.gateId)! : null,
        });
    }
    // The ticket's status changes (a seed may block and unblock one): each scan is judged on the status at its time.
    const view = (await f.admin.get(`/api/v1/tickets/${t.id}`)).body as {
      status: TicketStatus;
      status_changed_at: string | null;
      status_history: Array<{ at: string; status: TicketStatus }>;
      scans_used: number;
      inside: boolean;
    };
    const facts: TicketFacts = {
      id: t.id,
      eventId: f.eventId,
      status: view.status,
      statusChangedAt: view.status_changed_at === null ? null : Date.parse(view.status_changed_at),
      statusHistory: f.referenceIgnoresStatusHistory
        ? undefined
        : view.status_history.map((c) => ({ at: Date.parse(c.at), status: c.status })),
    };
    factsOf.set(t.id, facts);
    const { outcomes, state } = replayTicket(
      {
        event: {
          id: f.eventId,
          timezone: detail.timezone,
          duplicateWindowMs: detail.settings.duplicate_window_s * 1000,
        },
        ticket: facts,
        type: types.get(t.typeId)!,
      },
      scans,
    );
    const expectedAdmitted = new Set(outcomes.filter((o) => o.verdict.admits).map((o) => o.scan.ref));
    for (const o of outcomes) {
      const row = o.verdict.admits ? rowOfRef(o.scan.ref) : undefined;
      if (!row) continue;
      admissions.push({
        ref: row.id,
        ticketId: t.id,
        at: o.scan.at,
        deviceId: o.scan.deviceId,
        seq: o.scan.seq,
        direction: o.scan.direction,
        zones:
          o.scan.direction === 'entry'
            ? entryZones(o.scan.gate?.zoneIds ?? [], types.get(t.typeId)!.zoneIds, allZones)
            : [],
      });
    }
    const actualAdmitted = new Set<string>();
    for (const r of rows) {
      if (r.ticket_id !== t.id || r.record_status !== 'admitted') continue;
      actualAdmitted.add(r.source === 'online' ? `online:${r.id}` : `${r.device_id}#${r.seq}`);
    }
    const pretty = (k: string): string =>
      k.startsWith('online:')
        ? `online ${who(onlineById.get(k.slice(7))?.device_id ?? '?')}@${(onlineById.get(k.slice(7))?.scanned_at.getTime() ?? 0) % 1e7}`
        : `${who(k.split('#')[0]!)} seq ${k.split('#')[1]}`;
    const missing = [...expectedAdmitted].filter((k) => !actualAdmitted.has(k));
    const extra = [...actualAdmitted].filter((k) => !expectedAdmitted.has(k));
    if (missing.length > 0 || extra.length > 0) {
      v.push(
        `ticket ${t.id}: admissions of record differ from the reference replay: expected but not admitted [${missing.map(pretty).join(', ')}], admitted but not expected [${extra.map(pretty).join(', ')}]`,
      );
    }
    for (const o of outcomes) {
      if (o.verdict.admits) continue;
      const row = rowOfRef(o.scan.ref);
      if (row && row.record_status !== 'conflict')
        v.push(
          `ticket ${t.id}: ${pretty(o.scan.ref)} should be a conflict (${o.verdict.reason}), is ${row.record_status}`,
        );
      // With the reference's reason: the reason is a function of the scans, not of the order they reached the server.
      const reason = row ? conflictReason.get(row.id) : undefined;
      if (row && reason !== o.verdict.reason)
        v.push(
          `ticket ${t.id}: ${pretty(o.scan.ref)} is a conflict for ${reason ?? 'no open conflict'}, the reference says ${o.verdict.reason}`,
        );
    }
    if (view.scans_used !== state.entries || view.inside !== isInside(state)) {
      v.push(
        `ticket ${t.id}: server state entries=${view.scans_used} inside=${view.inside}, replay entries=${state.entries} inside=${isInside(state)}`,
      );
    }
    // 5. After the final download every device agrees with the server about the ticket.
    for (const d of f.devices) {
      const m = await new MemoryStore(d.backing).loadManifest(f.eventId);
      const mt = m?.tickets.get(t.id);
      if (!mt) {
        v.push(`${who(d.deviceId)}: ticket ${t.id} missing from its manifest`);
        continue;
      }
      if (mt.current_scans !== view.scans_used || mt.inside !== view.inside) {
        v.push(
          `${who(d.deviceId)}: manifest says ticket ${t.id} entries=${mt.current_scans} inside=${mt.inside}, server entries=${view.scans_used} inside=${view.inside}`,
        );
      }
    }
  }

  // 6. Closed gates: every entry at a closed gate from its closed_at on is gate_closed — a conflict when a device
  // admitted it offline, a refusal online — and no entry before closed_at is.
  const gateClosedLosers = new Set(
    (
      await f.db.query<{ loser_scan_id: string }>(
        `SELECT loser_scan_id FROM conflicts WHERE event_id = $1 AND reason = 'gate_closed'`,
        [f.eventId],
      )
    ).map((c) => c.loser_scan_id),
  );
  const candidateKeys = new Set(offlineCandidates.map((c) => c.ref));
  for (const r of rows) {
    const closed = r.gate_id ? (closedAt.get(r.gate_id) ?? null) : null;
    // A ticket blocked at the scan's time is refused for that first (the status is told before the gate).
    const facts = r.ticket_id ? factsOf.get(r.ticket_id) : undefined;
    const statusFirst = facts !== undefined && ticketStatusAt(facts, r.scanned_at.getTime()) !== 'valid';
    const after = closed !== null && r.direction === 'entry' && r.scanned_at.getTime() >= closed && !statusFirst;
    const name =
      r.source === 'online'
        ? `online ${who(r.device_id)}@${r.scanned_at.getTime() - (closed ?? 0)} ms after closing`
        : `${who(r.device_id)} seq ${r.seq}`;
    const admittedOffline = r.source === 'offline' && r.seq !== null && candidateKeys.has(`${r.device_id}#${r.seq}`);
    if (after && admittedOffline && (r.record_status !== 'conflict' || !gateClosedLosers.has(r.id))) {
      v.push(
        `CLOSED GATE: ${name}, an entry ${r.scanned_at.getTime() - closed} ms after the gate closed, is ${r.record_status}${gateClosedLosers.has(r.id) ? '' : ' without a gate_closed conflict'}`,
      );
    }
    if (after && r.source === 'online' && (r.admits || r.reason !== 'gate_closed')) {
      v.push(`CLOSED GATE: ${name} was answered ${r.reason} (admits=${r.admits}), not gate_closed`);
    }
    if (!after && (gateClosedLosers.has(r.id) || r.reason === 'gate_closed')) {
      v.push(
        `CLOSED GATE: ${name} is gate_closed but was not an entry after the gate closed (closed_at ${closed === null ? 'none' : closed})`,
      );
    }
  }

  // 7. Capacity: the over_capacity flags are exactly core's overCapacityEntries over the reference's admissions.
  const zones = detail.zones.map((z) => ({
    id: z.id,
    capacity: z.capacity,
    mode: f.referenceIgnoresCapacity ? ('off' as const) : z.capacity_mode,
  }));
  const expectedFlagged = overCapacityEntries(admissions, zones);
  const rowName = (r: ScanRow): string =>
    r.source === 'online'
      ? `online ${who(r.device_id)}@${r.scanned_at.getTime() % 1e7}`
      : `${who(r.device_id)} seq ${r.seq}`;
  for (const r of rows) {
    const flagged = r.flags.includes('over_capacity');
    if (flagged !== expectedFlagged.has(r.id)) {
      v.push(
        `CAPACITY: ${rowName(r)} (${r.direction}, ${r.record_status}) is ${flagged ? '' : 'not '}flagged over_capacity, the reference says ${expectedFlagged.has(r.id) ? 'flagged' : 'not'}`,
      );
    }
  }
  return v;
}
