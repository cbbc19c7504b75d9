import type { AdmissionRecord, TicketScanState } from '../model.ts';

/**
 * Applies one admission of record to a ticket's state. `consumesEntry` is the
 * verdict's `reason === 'admitted'`: re-entries and exits do not count against max_scans.
 */
export function applyAdmission(
  state: TicketScanState,
  record: AdmissionRecord,
  consumesEntry: boolean,
): TicketScanState {
  return {
    entries: state.entries + (consumesEntry ? 1 : 0),
    first: state.first ?? (record.direction === 'entry' ? record : null),
    last: record,
  };
}

/** A ticket is inside when its most recent successful scan is an entry: a person, not an entry count. */
export function isInside(state: TicketScanState): boolean {
  return state.last?.direction === 'entry';
}

/** Total order of scans used everywhere replay happens: scan time, then device id, then sequence. */
export function compareScanOrder(
  a: { at: number; deviceId: string; seq?: number | null | undefined },
  b: { at: number; deviceId: string; seq?: number | null | undefined },
): number {
  if (a.at !== b.at) return a.at - b.at;
  if (a.deviceId !== b.deviceId) return a.deviceId < b.deviceId ? -1 : 1;
  return (a.seq ?? 0) - (b.seq ?? 0);
}
