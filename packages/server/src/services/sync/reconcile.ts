import { replayTicket, type ReplayScan, type TicketScanState } from '@entrada/core';
import type { EventContext, TypeContext } from '../event-context.ts';
import type { CandidateScan, RecordStatus, ScanVerdictOfRecord } from '../../store/offline-scans.ts';
import type { LockedTicket } from '../../store/ticket-states.ts';

export type { CandidateScan, RecordStatus, ScanVerdictOfRecord };

export interface TicketReconciliation {
  ticketId: string;
  state: TicketScanState;
  stateChanged: boolean;
  /** Only the scans whose verdict of record changed. */
  changes: ScanVerdictOfRecord[];
  /** Every losing scan now: the conflicts that should be open. */
  conflicts: ScanVerdictOfRecord[];
  /** Scans that lose now and did not before (new losers, and winners overtaken): their conflicts open. */
  opened: string[];
  /** Scans that lost before and win now: their open conflicts become void. */
  revived: string[];
  admitted: string[];
  /** The scans the losers lost to (candidates of the same ticket), for the answer's "already used … by …". */
  winners: Map<string, { deviceId: string; scannedAt: number; gateId: string | null }>;
}

/**
 * First scan wins, whatever the upload order: all of a ticket's candidate
 * admissions, online and offline from every device, are replayed in scan-time
 * order (ties: device id, then seq) through core's rules. A scan the replay
 * refuses is a conflict naming the admission it lost to. A decision closer than
 * the two scans' clock uncertainty is marked ambiguous for review.
 */
export function reconcileTicket(
  ctx: EventContext,
  ticket: LockedTicket,
  type: TypeContext,
  scans: CandidateScan[],
): TicketReconciliation {
  // Plain loops: this runs once per ticket of every upload (hundreds per request).
  const replayScans = new Array<ReplayScan & { ref: string }>(scans.length);
  for (let i = 0; i < scans.length; i++) {
    const s = scans[i]!;
    replayScans[i] = {
      ref: s.id,
      forced: s.forced,
      at: s.at,
      deviceId: s.deviceId,
      seq: s.seq,
      direction: s.direction,
      gate: s.gateId ? (ctx.gates.get(s.gateId)?.policy ?? { id: s.gateId, zoneIds: [] }) : null,
    };
  }
  const { outcomes, state } = replayTicket(
    {
      event: ctx.policy,
      // The status history: each scan is judged on the status at its scan time (core's ticketStatusAt).
      ticket: {
        id: ticket.id,
        eventId: ticket.eventId,
        status: ticket.status,
        statusChangedAt: ticket.statusChangedAt,
        statusHistory: ticket.statusHistory,
      },
      type: type.policy,
    },
    replayScans,
  );
  const byId = scans.length > 8 ? new Map(scans.map((s) => [s.id, s])) : null;
  const changes: ScanVerdictOfRecord[] = [];
  const conflicts: ScanVerdictOfRecord[] = [];
  const admitted: string[] = [];
  const revived: string[] = [];
  const opened: string[] = [];
  const winners: TicketReconciliation['winners'] = new Map();
  for (const { scan, verdict } of outcomes) {
    const before = findScan(scans, byId, scan.ref)!;
    let next: ScanVerdictOfRecord;
    if (verdict.admits) {
      next = { id: before.id, recordStatus: 'admitted', conflictReason: null, winnerScanId: null, ambiguous: false };
      admitted.push(before.id);
    } else {
      const winner = verdict.previous?.ref ? findScan(scans, byId, verdict.previous.ref) : undefined;
      if (winner) winners.set(winner.id, { deviceId: winner.deviceId, scannedAt: winner.at, gateId: winner.gateId });
      const ambiguous =
        winner !== undefined && Math.abs(before.at - winner.at) < before.uncertaintyMs + winner.uncertaintyMs;
      next = {
        id: before.id,
        recordStatus: 'conflict',
        conflictReason: verdict.reason,
        winnerScanId: winner?.id ?? null,
        ambiguous,
      };
      conflicts.push(next);
    }
    if (
      next.recordStatus !== before.recordStatus ||
      next.conflictReason !== before.conflictReason ||
      next.winnerScanId !== before.winnerScanId ||
      next.ambiguous !== before.ambiguous
    ) {
      changes.push(next);
      if (before.recordStatus === 'conflict' && next.recordStatus === 'admitted') revived.push(before.id);
      else if (before.recordStatus !== 'conflict' && next.recordStatus === 'conflict') opened.push(before.id);
    }
  }
  return {
    ticketId: ticket.id,
    state,
    stateChanged: !sameState(state, ticket.state),
    changes,
    conflicts,
    opened,
    revived,
    admitted,
    winners,
  };
}

/**
 * A module function, not a closure: the server runs under tsx, whose esbuild
 * output names every closure it creates (a defineProperty per call, ~1% of a
 * sync burst's CPU for this one).
 */
function findScan(
  scans: readonly CandidateScan[],
  byId: ReadonlyMap<string, CandidateScan> | null,
  id: string,
): CandidateScan | undefined {
  if (byId) return byId.get(id);
  for (const s of scans) if (s.id === id) return s;
  return undefined;
}

function sameRecord(a: TicketScanState['first'], b: TicketScanState['first']): boolean {
  if (!a || !b) return a === b || (!a && !b);
  return a.at === b.at && a.direction === b.direction && a.deviceId === b.deviceId && a.gateId === b.gateId;
}

function sameState(a: TicketScanState, b: TicketScanState): boolean {
  return a.entries === b.entries && sameRecord(a.first, b.first) && sameRecord(a.last, b.last);
}
