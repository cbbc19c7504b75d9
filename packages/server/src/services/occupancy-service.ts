import type { Database } from '../db/database.ts';
import { occupancyCells } from '../store/scans.ts';
import type { EventContext } from './event-context.ts';

export interface Occupancy {
  event_id: string;
  inside: number;
  admitted: number;
  zones: Array<{
    id: string;
    name: string;
    capacity: number | null;
    inside: number;
    admitted: number;
    available: number | null;
  }>;
  gates: Array<{ id: string; name: string; inside: number; admitted: number }>;
  generated_at: string;
}

/** The zones a person entering at `gateId` with a ticket of `typeId` is in (no zones listed: all of them). */
export function zonesFor(ctx: EventContext, gateId: string | null, typeId: string | null): string[] {
  const allZones = [...ctx.zones.keys()];
  const gateZones = gateId ? (ctx.gates.get(gateId)?.zoneIds ?? []) : [];
  const typeZones = typeId ? (ctx.types.get(typeId)?.zoneIds ?? []) : [];
  const g = gateZones.length ? gateZones : allZones;
  const t = typeZones.length ? typeZones : allZones;
  return g.filter((z) => t.includes(z));
}

/**
 * Occupancy counts people (tickets), not scans: `inside` are tickets whose most
 * recent successful scan is an entry, `admitted` those admitted at least once.
 * A person is inside the zones their entry gate admits to and their ticket grants.
 */
export async function computeOccupancy(db: Database, ctx: EventContext, now: number): Promise<Occupancy> {
  const { byLastGate, byFirstGate } = await occupancyCells(db, ctx.event.id);
  const zoneInside = new Map<string, number>();
  const zoneAdmitted = new Map<string, number>();
  const gateInside = new Map<string, number>();
  const gateAdmitted = new Map<string, number>();
  const zonesOf = (gateId: string | null, typeId: string): string[] => zonesFor(ctx, gateId, typeId);
  const add = (map: Map<string, number>, key: string, n: number): void => {
    map.set(key, (map.get(key) ?? 0) + n);
  };
  let inside = 0;
  let admitted = 0;
  for (const c of byLastGate) {
    inside += c.inside;
    if (c.gateId) add(gateInside, c.gateId, c.inside);
    for (const z of zonesOf(c.gateId, c.typeId)) add(zoneInside, z, c.inside);
  }
  for (const c of byFirstGate) {
    admitted += c.admitted;
    if (c.gateId) add(gateAdmitted, c.gateId, c.admitted);
    for (const z of zonesOf(c.gateId, c.typeId)) add(zoneAdmitted, z, c.admitted);
  }
  return {
    event_id: ctx.event.id,
    inside,
    admitted,
    zones: [...ctx.zones.values()].map((z) => {
      const zi = zoneInside.get(z.id) ?? 0;
      return {
        id: z.id,
        name: z.name,
        capacity: z.capacity,
        inside: zi,
        admitted: zoneAdmitted.get(z.id) ?? 0,
        available: z.capacity === null ? null : Math.max(0, z.capacity - zi),
      };
    }),
    gates: [...ctx.gates.values()].map((g) => ({
      id: g.id,
      name: g.name,
      inside: gateInside.get(g.id) ?? 0,
      admitted: gateAdmitted.get(g.id) ?? 0,
    })),
    generated_at: new Date(now).toISOString(),
  };
}
