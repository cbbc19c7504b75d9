import type { ClientStore, ScanOutcome } from '@entrada/client';

/** What this device counted at each gate: the steward's own tally, kept across reloads. */
export interface GateCount {
  admitted: number;
  exited: number;
  refused: number;
}
export type GateCounts = Record<string, GateCount>;

const KEY = (eventId: string): string => `counters:${eventId}`;
export const NO_GATE = '-';

export function emptyCount(): GateCount {
  return { admitted: 0, exited: 0, refused: 0 };
}

export function countOutcome(counts: GateCounts, gateId: string | null, o: ScanOutcome): GateCounts {
  const key = gateId ?? NO_GATE;
  const c = { ...(counts[key] ?? emptyCount()) };
  if (o.result === 'valid') {
    if (o.reason === 'exited' || o.reason === 'exit_not_inside') c.exited++;
    else c.admitted++;
  } else {
    c.refused++;
  }
  return { ...counts, [key]: c };
}

export async function loadCounts(store: ClientStore, eventId: string): Promise<GateCounts> {
  return (await store.getMeta<GateCounts>(KEY(eventId))) ?? {};
}

export function saveCounts(store: ClientStore, eventId: string, counts: GateCounts): Promise<void> {
  return store.setMeta(KEY(eventId), counts);
}
