/**
 * Reads the golden capacity vectors (vectors/capacity.json), for core's tests and the server's (which plays
 * the online ones through its HTTP API).
 */
import type { Direction } from '../model.ts';
import type { CapacityAdmission, CapacityMode, ZoneCapacity } from '../rules/capacity.ts';

export interface OnlineCapacityVector {
  name: string;
  zones: Array<ZoneCapacity & { inside: number }>;
  gateZones: string[];
  typeZones: string[];
  direction: Direction;
  expect: { result: string; reason: string; over_capacity: string[] };
}

export interface OfflineCapacityVector {
  name: string;
  zones: ZoneCapacity[];
  admissions: CapacityAdmission[];
  expectFlagged: string[];
}

interface RawZone {
  capacity: number | null;
  mode: CapacityMode;
  inside?: number;
}
interface RawVectors {
  online: Array<{
    name: string;
    zones: Record<string, RawZone>;
    gate_zones: string[];
    type_zones: string[];
    direction: Direction;
    expect: OnlineCapacityVector['expect'];
  }>;
  offline: Array<{
    name: string;
    zones: Record<string, RawZone>;
    admissions: Array<{ ref: string; ticket: string; at: string; direction: Direction; zones: string[] }>;
    expect_flagged: string[];
  }>;
}

export function readCapacityVectors(json: unknown): {
  online: OnlineCapacityVector[];
  offline: OfflineCapacityVector[];
} {
  const raw = json as RawVectors;
  return {
    online: raw.online.map((c) => ({
      name: c.name,
      zones: Object.entries(c.zones).map(([id, z]) => ({
        id,
        capacity: z.capacity,
        mode: z.mode,
        inside: z.inside ?? 0,
      })),
      gateZones: c.gate_zones,
      typeZones: c.type_zones,
      direction: c.direction,
      expect: c.expect,
    })),
    offline: raw.offline.map((c) => ({
      name: c.name,
      zones: Object.entries(c.zones).map(([id, z]) => ({ id, capacity: z.capacity, mode: z.mode })),
      admissions: c.admissions.map((a) => ({
        ref: a.ref,
        ticketId: a.ticket,
        at: Date.parse(a.at),
        direction: a.direction,
        zones: a.zones,
      })),
      expectFlagged: c.expect_flagged,
    })),
  };
}
