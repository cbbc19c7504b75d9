import {
  capacityManaged,
  entryZones,
  overCapacityEntries,
  type CapacityAdmission,
  type ZoneCapacity,
} from '@entrada/core';
import type { Sql } from '../../db/database.ts';
import { admissionsOfRecord, lockZones, setOverCapacityFlags } from '../../store/zone-capacity.ts';
import type { EventContext } from '../event-context.ts';

/**
 * Zone capacity after admissions of record changed offline (issue 14 §2). Offline devices cannot know what
 * other gates admitted, so their admissions are never refused for capacity; instead every admission of record
 * of the event is replayed in scan-time order (core's overCapacityEntries) and the entries that took a
 * warn or enforce zone over its capacity carry the flag `over_capacity` — exactly those, whatever order the
 * uploads came in: flags the replay no longer gives are taken off. Set-based: one read of the admissions,
 * one statement for the flags. Under the zones' locks (those of online entries), so two uploads, or an
 * upload and an online entry, cannot each count without the other. The alert service's zone_over_capacity
 * rule raises the alert from the occupancy this leaves.
 * Returns the scans newly flagged.
 */
export async function reconcileCapacity(tx: Sql, ctx: EventContext): Promise<string[]> {
  if (!ctx.capacityManaged) return [];
  const zones: ZoneCapacity[] = [...ctx.zones.values()].map((z) => ({
    id: z.id,
    capacity: z.capacity,
    mode: z.capacityMode,
  }));
  await lockZones(
    tx,
    ctx.event.id,
    zones.filter(capacityManaged).map((z) => z.id),
  );
  const rows = await admissionsOfRecord(tx, ctx.event.id);
  const admitted = rows.filter((r) => r.admitted);
  const all = [...ctx.zones.keys()];
  // Zones by (gate, type): few distinct pairs for many admissions.
  const zonesOf = new Map<string, string[]>();
  const admissions: CapacityAdmission[] = new Array(admitted.length);
  for (let i = 0; i < admitted.length; i++) {
    const r = admitted[i]!;
    let zs: string[] = [];
    if (r.direction === 'entry') {
      const key = `${r.gateId ?? ''}|${r.typeId}`;
      zs = zonesOf.get(key) ?? [];
      if (!zonesOf.has(key)) {
        const gateZones = r.gateId ? (ctx.gates.get(r.gateId)?.zoneIds ?? []) : [];
        zs = entryZones(gateZones, ctx.types.get(r.typeId)?.zoneIds ?? [], all);
        zonesOf.set(key, zs);
      }
    }
    admissions[i] = {
      ref: r.id,
      ticketId: r.ticketId,
      at: r.at,
      deviceId: r.deviceId,
      seq: r.seq,
      direction: r.direction,
      zones: zs,
    };
  }
  const flagged = overCapacityEntries(admissions, zones);
  const add = rows.filter((r) => flagged.has(r.id) && !r.flagged).map((r) => r.id);
  const remove = rows.filter((r) => !flagged.has(r.id) && r.flagged).map((r) => r.id);
  await setOverCapacityFlags(tx, ctx.event.id, add, remove);
  return add;
}
