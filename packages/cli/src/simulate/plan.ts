import { Prng } from '@entrada/client';

export interface PlannedScan {
  /** Index into the issued tickets. */
  ticket: number;
  /** Device clock at the scan (ms since epoch). */
  at: number;
}

export interface ScanPlan {
  /** Per device, in time order (a device's clock only moves forward). */
  perDevice: PlannedScan[][];
  scans: number;
  /** Tickets scanned by two devices: each is exactly one conflict once both sync. */
  overlapping: number;
}

/**
 * Every ticket is scanned once, by a seeded device; about `overlap` of them a
 * second time by another device (the double entry two offline gates cannot
 * see). Times are uniform in [windowEnd - windowMs, windowEnd).
 */
export function planScans(
  seed: number,
  tickets: number,
  devices: number,
  overlap: number,
  windowEnd: number,
  windowMs: number,
): ScanPlan {
  const rng = new Prng(seed).fork(2);
  const perDevice: PlannedScan[][] = Array.from({ length: devices }, () => []);
  const at = (): number => windowEnd - windowMs + Math.floor(rng.next() * windowMs);
  let overlapping = 0;
  for (let t = 0; t < tickets; t++) {
    const first = rng.int(0, devices - 1);
    perDevice[first]!.push({ ticket: t, at: at() });
    if (devices > 1 && rng.chance(overlap)) {
      const second = (first + rng.int(1, devices - 1)) % devices;
      perDevice[second]!.push({ ticket: t, at: at() });
      overlapping++;
    }
  }
  for (const list of perDevice) list.sort((a, b) => a.at - b.at || a.ticket - b.ticket);
  return { perDevice, scans: tickets + overlapping, overlapping };
}

/**
 * When each device gets the network back, in ms after the first one: 0 for all
 * when `spreadMs` is 0 (everyone at once), otherwise seeded and uniform in
 * [0, spreadMs), the first device at 0.
 */
export function reconnectOffsets(seed: number, devices: number, spreadMs: number): number[] {
  if (spreadMs <= 0) return Array.from({ length: devices }, () => 0);
  const rng = new Prng(seed).fork(3);
  return Array.from({ length: devices }, (_, i) => (i === 0 ? 0 : Math.floor(rng.next() * spreadMs)));
}
