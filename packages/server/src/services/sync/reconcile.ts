import { replayTicket, type Direction, type TicketScanState, type VerdictReason } from '@entrada/core';
import type { EventContext, TypeContext } from '../event-context.ts';
import type { TicketRecord } from '../../store/tickets.ts';

export type RecordStatus = 'admitted' | 'conflict' | 'rejected' | 'failed' | 'quarantined';

/** A scan that admitted someone at the gate (online or offline): a candidate admission of record. */
export interface CandidateScan {
  id: string;
  ticketId: string;
  deviceId: string;
  seq: number | null;
  at: number;
  direction: Direction;
  gateId: string | null;
  forced: boolean;
  uncertaintyMs: number;
  recordStatus: RecordStatus;
  conflictReason: string | null;
  winnerScanId: string | null;
  ambiguous: boolean;
}

export interface ScanVerdictOfRecord {
  id: string;
  recordStatus: 'admitted' | 'conflict';
  conflictReason: VerdictReason | null;
  winnerScanId: string | null;
  ambiguous: boolean;
}

export interface TicketReconciliation {
  ticketId: string;
  state: TicketScanState;
  stateChanged: boolean;
  /** Only the scans whose verdict of record changed. */
  changes: ScanVerdictOfRecord[];
  /** Every losing scan now: the conflicts that should be open. */
  conflicts: ScanVerdictOfRecord[];
  admitted: string[];
}

/**
 * First scan wins, whatever the upload order: all of a ticket's candidate
 * admissions, online and offline from every device, are replayed in scan-time
 * order (ties: device id, then seq) through core's rules. A scan the replay
 * refuses is a conflict naming the admission it lost to. A decision closer than
 * the two scans' clock uncertainty is marked ambiguous for review.
 */
export function reconcileTicket(ctx: EventContext, ticket: TicketRecord, type: TypeContext, scans: CandidateScan[]): TicketReconciliation {
  const byId = new Map(scans.map((s) => [s.id, s]));
  const { outcomes, state } = replayTicket(
    {
      event: ctx.policy,
      ticket: { id: ticket.id, eventId: ticket.eventId, status: ticket.status, statusChangedAt: ticket.statusChangedAt },
      type: type.policy,
    },
    scans.map((s) => ({
      ref: s.id, forced: s.forced, at: s.at, deviceId: s.deviceId, seq: s.seq, direction: s.direction,
      gate: s.gateId ? ctx.gates.get(s.gateId)?.policy ?? { id: s.gateId, zoneIds: [] } : null,
    })),
  );
  const changes: ScanVerdictOfRecord[] = [];
  const conflicts: ScanVerdictOfRecord[] = [];
  const admitted: string[] = [];
  for (const { scan, verdict } of outcomes) {
    const before = byId.get(scan.ref!)!;
    let next: ScanVerdictOfRecord;
    if (verdict.admits) {
      next = { id: before.id, recordStatus: 'admitted', conflictReason: null, winnerScanId: null, ambiguous: false };
      admitted.push(before.id);
    } else {
      const winner = verdict.previous?.ref ? byId.get(verdict.previous.ref) : undefined;
      const ambiguous = winner !== undefined && Math.abs(before.at - winner.at) < before.uncertaintyMs + winner.uncertaintyMs;
      next = { id: before.id, recordStatus: 'conflict', conflictReason: verdict.reason, winnerScanId: winner?.id ?? null, ambiguous };
      conflicts.push(next);
    }
    if (next.recordStatus !== before.recordStatus || next.conflictReason !== before.conflictReason
      || next.winnerScanId !== before.winnerScanId || next.ambiguous !== before.ambiguous) {
      changes.push(next);
    }
  }
  return { ticketId: ticket.id, state, stateChanged: !sameState(state, ticket.state), changes, conflicts, admitted };
}

function sameState(a: TicketScanState, b: TicketScanState): boolean {
  const rec = (r: TicketScanState['first']): string => (r ? `${r.at}|${r.direction}|${r.deviceId}|${r.gateId}` : '-');
  return a.entries === b.entries && rec(a.first) === rec(b.first) && rec(a.last) === rec(b.last);
}
