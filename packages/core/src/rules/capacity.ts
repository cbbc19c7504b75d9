import type { Direction, Verdict } from '../model.ts';
import { compareScanOrder } from './ticket-state.ts';

/**
 * Zone capacity (issue 14 §2, seed 004's "insufficient inventory" at a venue). A zone's `capacity` is
 * counted per zone as `off` (shown only), `warn` (admits and flags the entries that take the zone over it)
 * or `enforce` (an online entry into a full zone is refused `zone_full`; an exit frees a place).
 * Offline devices cannot know what other gates admitted, so synced admissions are never refused for
 * capacity: the entries that took a zone over it, the latest by scan time, are flagged `over_capacity`.
 */
export type CapacityMode = 'off' | 'warn' | 'enforce';
export const CAPACITY_MODES: readonly CapacityMode[] = ['off', 'warn', 'enforce'];

export interface ZoneCapacity {
  id: string;
  capacity: number | null;
  mode: CapacityMode;
}

/** A zone whose capacity counts: a mode other than off, and a capacity to count against. */
export function capacityManaged(z: ZoneCapacity): z is ZoneCapacity & { capacity: number } {
  return z.mode !== 'off' && z.capacity !== null;
}

/**
 * The zones a person entering at a gate with a ticket of a type is in: those the gate admits to and the
 * type grants, an empty list on either side meaning every zone (as zonesOverlap reads it).
 */
export function entryZones(
  gateZones: readonly string[],
  typeZones: readonly string[],
  allZones: readonly string[],
): string[] {
  const g = gateZones.length > 0 ? gateZones : allZones;
  const t = typeZones.length > 0 ? typeZones : allZones;
  return g.filter((z) => t.includes(z));
}

export interface CapacityDecision {
  verdict: Verdict;
  /** Warn zones this admission takes over their capacity (the scan is flagged `over_capacity`). */
  overCapacity: string[];
}

/**
 * Capacity on an online decision. `zones` are the zones the entry would put the person in, `inside` the
 * people inside each before this scan. Only an admitted entry is concerned: exits and refusals pass
 * unchanged. A person already inside who is admitted again (a multi-entry ticket) adds nobody.
 */
export function applyCapacity(
  verdict: Verdict,
  direction: Direction,
  alreadyInside: boolean,
  zones: readonly ZoneCapacity[],
  inside: (zoneId: string) => number,
): CapacityDecision {
  if (!verdict.admits || direction !== 'entry' || alreadyInside) return { verdict, overCapacity: [] };
  const overCapacity: string[] = [];
  for (const z of zones) {
    if (!capacityManaged(z)) continue;
    const n = inside(z.id);
    if (n + 1 <= z.capacity) continue;
    if (z.mode === 'enforce') {
      return {
        verdict: {
          result: 'not_valid_now',
          reason: 'zone_full',
          admits: false,
          zone: { id: z.id, capacity: z.capacity, inside: n },
        },
        overCapacity: [],
      };
    }
    overCapacity.push(z.id);
  }
  return { verdict, overCapacity };
}

/** One admission of record, for the capacity replay: an entry into `zones`, or an exit. */
export interface CapacityAdmission {
  ref: string;
  ticketId: string;
  at: number;
  /**
   * Scan-time ties break as the ticket replay breaks them (device id, then seq), then by ticket id — a device
   * without seqs (seed 001) can scan two tickets in one millisecond, and the ticket is known alike to the server
   * and to a reference — and only then by ref.
   */
  deviceId?: string | undefined;
  seq?: number | null | undefined;
  direction: Direction;
  /** For an entry: the zones it puts the person in (entryZones). Ignored for an exit. */
  zones: readonly string[];
}

/**
 * The entries that took a managed zone over its capacity: every admission of record replayed in scan-time
 * order (ties by device id, seq, then ref) over per-zone occupancy from empty. A person is in the zones of their latest entry
 * until they exit. A function of the set of admissions alone, so the flags do not depend on the order
 * uploads arrived in.
 */
export function overCapacityEntries(
  admissions: readonly CapacityAdmission[],
  zones: Iterable<ZoneCapacity>,
): Set<string> {
  const managed = new Map<string, number>();
  for (const z of zones) if (capacityManaged(z)) managed.set(z.id, z.capacity);
  const flagged = new Set<string>();
  if (managed.size === 0) return flagged;
  // Never by anything an upload assigns (a row id, arrival): the order, and so the flags, must not depend on upload order.
  const ordered = [...admissions].sort(
    (a, b) =>
      compareScanOrder(
        { at: a.at, deviceId: a.deviceId ?? '', seq: a.seq },
        { at: b.at, deviceId: b.deviceId ?? '', seq: b.seq },
      ) ||
      (a.ticketId < b.ticketId ? -1 : a.ticketId > b.ticketId ? 1 : 0) ||
      (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0),
  );
  const inside = new Map<string, number>();
  const where = new Map<string, readonly string[]>();
  for (const a of ordered) {
    const was = where.get(a.ticketId) ?? [];
    const now = a.direction === 'exit' ? [] : a.zones.filter((z) => managed.has(z));
    for (const z of was) if (!now.includes(z)) inside.set(z, inside.get(z)! - 1);
    // Only a zone the person was not already in gains one: a second entry while inside adds nobody.
    let over = false;
    for (const z of now) {
      if (was.includes(z)) continue;
      const n = (inside.get(z) ?? 0) + 1;
      inside.set(z, n);
      if (n > managed.get(z)!) over = true;
    }
    if (now.length > 0) where.set(a.ticketId, now);
    else where.delete(a.ticketId);
    if (over) flagged.add(a.ref);
  }
  return flagged;
}
