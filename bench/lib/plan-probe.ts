/**
 * How PostgreSQL runs the offline sync's statements on the data a benchmark
 * left behind: the server's own store functions (packages/server/src/store/
 * offline.ts, imported, so the SQL is never copied here) are called with an
 * `Sql` that prefixes each statement with EXPLAIN (ANALYZE, BUFFERS, FORMAT
 * JSON), inside a transaction that is rolled back. Parameters are those of
 * one realistic upload (500 tickets of one device, a few conflicts).
 *
 * Run it before and after ANALYZE to see what stale statistics cost: with
 * statistics taken before an event had any scans, the planner believes
 * `event_id = $1` matches almost nothing in `scans` and may pick any index
 * led by event_id, filtering the rest, which walks the event's whole range.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { TicketScanState } from '@entrada/core';
import type { Sql } from '../../packages/server/src/db/database.ts';
import { candidateScans, storedScansBySeq } from '../../packages/server/src/store/offline-scans.ts';
import { applyReconciliation } from '../../packages/server/src/store/reconciliation-writes.ts';
import { compareAndSetTicketStates, lockTicketsById } from '../../packages/server/src/store/ticket-states.ts';
import { ticketsByDigests } from '../../packages/server/src/store/tickets.ts';

export interface PlanSample {
  statement: string;
  executionMs: number;
  planningMs: number;
  /** Every scan node: "Index Scan using scans_tx on scans (20,000 rows read)" etc. */
  access: string[];
  /** Rows the scan nodes produced or filtered out, over all their loops. */
  rowsRead: number;
  /** Rows read and thrown away by filters and join filters, over the whole plan. */
  rowsRemoved: number;
  /** Buffers touched (shared hit + read). */
  buffers: number;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Loops'?: number;
  'Actual Rows'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Join Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

function summarize(
  statement: string,
  explained: { Plan: PlanNode; 'Execution Time': number; 'Planning Time': number },
): PlanSample {
  const access: string[] = [];
  let rowsRemoved = 0;
  let rowsRead = 0;
  const walk = (n: PlanNode): void => {
    const loops = n['Actual Loops'] ?? 1;
    if (n['Relation Name'] && /Scan/.test(n['Node Type'])) {
      const read = ((n['Actual Rows'] ?? 0) + (n['Rows Removed by Filter'] ?? 0)) * loops;
      rowsRead += read;
      access.push(
        `${n['Node Type']}${n['Index Name'] ? ` using ${n['Index Name']}` : ''} on ${n['Relation Name']}${loops > 1 ? ` ×${loops}` : ''} (${Math.round(read).toLocaleString('en-US')} rows read)`,
      );
    }
    rowsRemoved +=
      ((n['Rows Removed by Filter'] ?? 0) +
        (n['Rows Removed by Join Filter'] ?? 0) +
        (n['Rows Removed by Index Recheck'] ?? 0)) *
      loops;
    for (const c of n.Plans ?? []) walk(c);
  };
  walk(explained.Plan);
  const root = explained.Plan;
  return {
    statement,
    executionMs: Math.round(explained['Execution Time'] * 100) / 100,
    planningMs: Math.round(explained['Planning Time'] * 100) / 100,
    access,
    rowsRead: Math.round(rowsRead),
    rowsRemoved: Math.round(rowsRemoved),
    buffers: (root['Shared Hit Blocks'] ?? 0) + (root['Shared Read Blocks'] ?? 0),
  };
}

export interface ProbeInput {
  eventId: string;
  devicePk: string;
  /** The upload's tickets (ids) and their scans' seqs. */
  ticketIds: string[];
  seqs: number[];
}

/** EXPLAIN ANALYZE of each statement a 500-scan upload runs against `scans`/`tickets`, rolled back. */
export async function probeSyncPlans(
  url: string,
  input: ProbeInput,
): Promise<{ samples: PlanSample[]; wallMs: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const samples: PlanSample[] = [];
  const t0 = performance.now();
  try {
    await c.query('BEGIN');
    let label = '';
    const sql: Sql = {
      async query<R>(text: string, params?: readonly unknown[]): Promise<R[]> {
        const r = await c.query<{
          'QUERY PLAN': Array<{ Plan: PlanNode; 'Execution Time': number; 'Planning Time': number }>;
        }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`, params as unknown[] | undefined);
        const n = samples.filter((x) => x.statement === label || x.statement.startsWith(`${label} #`)).length;
        samples.push(summarize(n === 0 ? label : `${label} #${n + 1}`, r.rows[0]!['QUERY PLAN'][0]!));
        // The statements' own rows are not read back, but the guarded compare-and-set expects its one row (the writes
        // that missed): none, as far as the probe's caller cares.
        return (label === 'compareAndSetTicketStates' ? [{ missed: '{}' }] : []) as R[];
      },
      async exec(): Promise<void> {
        /* unused */
      },
      // The scans' insert is a COPY, which has no plan: it is not probed.
      async copyRows(): Promise<void> {
        /* unused */
      },
    };
    const { eventId, ticketIds } = input;
    const digests = (
      await c.query<{ d: string }>(
        `SELECT encode(code_digest, 'hex') AS d FROM tickets WHERE event_id = $1 AND id = ANY($2::uuid[])`,
        [eventId, ticketIds],
      )
    ).rows.map((r) => r.d);
    const conflicts = (
      await c.query<{ id: string; winner: string | null; ticket_id: string }>(
        `SELECT id, winner_scan_id AS winner, ticket_id FROM scans WHERE event_id = $1 AND record_status = 'conflict' ORDER BY id LIMIT 10`,
        [eventId],
      )
    ).rows;
    // Scans that would win again (their open conflicts, if any, become void): disjoint from the losers above.
    const revived = (
      await c.query<{ id: string }>(
        `SELECT id FROM scans WHERE event_id = $1 AND record_status = 'admitted' ORDER BY id LIMIT 10`,
        [eventId],
      )
    ).rows.map((r) => r.id);
    const states: Array<{ ticketId: string; state: TicketScanState }> = ticketIds.map((id) => ({
      ticketId: id,
      state: {
        entries: 1,
        first: { at: Date.now() - 60_000, direction: 'entry', deviceId: 'probe', gateId: null },
        last: { at: Date.now() - 60_000, direction: 'entry', deviceId: 'probe', gateId: null },
      },
    }));
    label = 'storedScansBySeq';
    await storedScansBySeq(sql, eventId, input.devicePk, input.seqs);
    // The ticket cache's read of its misses (a warm instance reads none).
    label = 'ticketsByDigests';
    await ticketsByDigests(sql, eventId, digests);
    // The usual write: every ticket's state, compare-and-set on the version (these have moved on: none is written).
    label = 'compareAndSetTicketStates';
    await compareAndSetTicketStates(
      sql,
      eventId,
      states.map((s) => ({ ...s, expectedVersion: 0 })),
    );
    // The tickets whose compare-and-set failed, reconciled under their locks.
    label = 'lockTicketsById';
    await lockTicketsById(sql, eventId, ticketIds);
    label = 'candidateScans';
    await candidateScans(sql, eventId, ticketIds);
    // Verdicts, conflicts (upserted and voided) and ticket states: one statement.
    label = 'applyReconciliation';
    await applyReconciliation(sql, eventId, {
      verdicts: conflicts.map((x) => ({
        id: x.id,
        recordStatus: 'conflict',
        conflictReason: 'already_used',
        winnerScanId: x.winner,
        ambiguous: false,
        isNew: false,
      })),
      states,
      conflicts: conflicts.map((x) => ({
        id: x.id,
        ticketId: x.ticket_id,
        recordStatus: 'conflict',
        conflictReason: 'already_used',
        winnerScanId: x.winner,
        ambiguous: false,
      })),
      voidLosers: revived,
      at: Date.now(),
    });
  } finally {
    await c.query('ROLLBACK').catch(() => undefined);
    await c.end().catch(() => undefined);
  }
  return { samples, wallMs: performance.now() - t0 };
}
