import { isInside, type TicketScanState } from '@entrada/core';
import type { LiveCountRows } from '../store/live.ts';
import type { InsideAt, ScanCountChange } from './bus.ts';
import type { EventContext } from './event-context.ts';
import { zonesFor } from './occupancy-service.ts';

/**
 * The live stream's counts of one event, kept by gate and ticket type (zones
 * are derived when a message is written, so a zone set-up change needs no
 * recount of its own): built by one full recount, then moved by each online
 * scan's `ScanCountChange`. Adding changes up gives the recount's answer
 * because each change is the difference between two consecutive versions of
 * one ticket (the scan path's version guard), whatever order they arrive in.
 */
export interface LiveCounts {
  /** People inside, by the gate of their last entry and their ticket type. */
  inside: Map<string, number>;
  /** Admissions of record by gate and type: entries and exits. */
  entries: Map<string, number>;
  exits: Map<string, number>;
  /** Tickets admitted at least once. */
  admitted: number;
  /** Refused scans by reason. */
  denied: Map<string, number>;
}

export interface CountedOccupancy {
  inside: number;
  admitted: number;
  zones: Array<{
    zone_id: string;
    name: string;
    inside: number;
    capacity: number | null;
    entries: number;
    exits: number;
  }>;
  denied: Record<string, number>;
  denied_total: number;
}

const SEP = '\u0000';
const cell = (gateId: string | null, typeId: string | null): string => `${gateId ?? ''}${SEP}${typeId ?? ''}`;
const uncell = (key: string): [string | null, string | null] => {
  const [g, t] = key.split(SEP) as [string, string];
  return [g === '' ? null : g, t === '' ? null : t];
};
const bump = (map: Map<string, number>, key: string, n: number): void => {
  const v = (map.get(key) ?? 0) + n;
  if (v === 0) map.delete(key);
  else map.set(key, v);
};

/** A refusal without a stored reason is shown as 'unknown' (as the recount does). */
const deniedReason = (reason: string | null): string => reason ?? 'unknown';

export function countsFromRows(rows: LiveCountRows): LiveCounts {
  const counts: LiveCounts = {
    inside: new Map(),
    entries: new Map(),
    exits: new Map(),
    admitted: rows.admitted,
    denied: new Map(),
  };
  for (const r of rows.inside) bump(counts.inside, cell(r.gateId, r.typeId), r.n);
  for (const c of rows.cells) {
    if (!c.counted) bump(counts.denied, deniedReason(c.reason), c.n);
    else bump(c.direction === 'entry' ? counts.entries : counts.exits, cell(c.gateId, c.typeId), c.n);
  }
  return counts;
}

/** Where a ticket's holder is inside by (the gate of its last entry), or null when outside. */
export function insideAt(state: TicketScanState): InsideAt | null {
  return isInside(state) ? { gateId: state.last?.gateId ?? null } : null;
}

/** What a scan decided on a ticket's current version changed: from its state before to its state after. */
export function scanCountChange(
  typeId: string | null,
  admits: boolean,
  before: TicketScanState | null,
  after: TicketScanState | null,
): ScanCountChange {
  return {
    typeId,
    admits,
    insideBefore: before ? insideAt(before) : null,
    insideAfter: after ? insideAt(after) : null,
    firstAdmission: before !== null && after !== null && before.first === null && after.first !== null,
  };
}

export function applyScan(
  counts: LiveCounts,
  scan: { gateId: string | null; direction: 'entry' | 'exit'; reason: string | null },
  change: ScanCountChange,
): void {
  if (!change.admits) {
    bump(counts.denied, deniedReason(scan.reason), 1);
    return;
  }
  bump(scan.direction === 'entry' ? counts.entries : counts.exits, cell(scan.gateId, change.typeId), 1);
  if (change.insideBefore) bump(counts.inside, cell(change.insideBefore.gateId, change.typeId), -1);
  if (change.insideAfter) bump(counts.inside, cell(change.insideAfter.gateId, change.typeId), 1);
  if (change.firstAdmission) counts.admitted++;
}

/** The counts as the stream's `occupancy` message shows them: per zone (from gate and type) and in total. */
export function countedOccupancy(ctx: EventContext, counts: LiveCounts): CountedOccupancy {
  const zoneInside = new Map<string, number>();
  const zoneEntries = new Map<string, number>();
  const zoneExits = new Map<string, number>();
  const spread = (from: Map<string, number>, into: Map<string, number>): number => {
    let total = 0;
    for (const [key, n] of from) {
      total += n;
      const [gateId, typeId] = uncell(key);
      for (const z of zonesFor(ctx, gateId, typeId)) into.set(z, (into.get(z) ?? 0) + n);
    }
    return total;
  };
  const inside = spread(counts.inside, zoneInside);
  spread(counts.entries, zoneEntries);
  spread(counts.exits, zoneExits);
  // Map order is first-seen order, which differs between a recount and increments: sorted, equal counts print alike.
  const denied = Object.fromEntries([...counts.denied].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    inside,
    admitted: counts.admitted,
    zones: [...ctx.zones.values()].map((z) => ({
      zone_id: z.id,
      name: z.name,
      inside: zoneInside.get(z.id) ?? 0,
      capacity: z.capacity,
      entries: zoneEntries.get(z.id) ?? 0,
      exits: zoneExits.get(z.id) ?? 0,
    })),
    denied,
    denied_total: [...counts.denied.values()].reduce((a, b) => a + b, 0),
  };
}
