import type { Logger } from 'pino';
import type { Database } from '../db/database.ts';
import { analyzeColumns, estimatedRows, tryAdvisoryXactLock } from '../store/maintenance.ts';

type HotTable = 'scans' | 'tickets';

/**
 * The columns whose statistics choose the hot statements' indexes: the leading
 * event_id (a fresh event looked like a handful of rows), then the key columns
 * that follow it in those indexes. The other columns keep the statistics of the
 * last full ANALYZE (autovacuum's); their estimates only refine row counts.
 */
const PLANNED_COLUMNS: Record<HotTable, string> = {
  scans: 'event_id, id, ticket_id, device_pk, seq, session_id, tx',
  tickets: 'event_id, id, code_digest, serial, number, tx',
};

/**
 * Keeps the planner's statistics of the hot tables fresh after bursts of
 * writes. Every hot query is scoped by event_id; statistics taken before an
 * event's first burst make the planner believe the event has a handful of rows
 * and scan the whole event through the wrong index (measured: 8x slower
 * sync). Autovacuum, when it runs at all, re-analyzes a large table only after
 * a tenth of it changed — far too late for a gate opening. So each instance
 * counts what it wrote and runs ANALYZE once a table doubled since its last
 * analysis (estimates within 2x keep the plans right); an advisory lock keeps
 * instances from doing it twice at once.
 *
 * ANALYZE is not free: on 100,000 scans it cost about 430 ms of PostgreSQL
 * CPU, and analyzing at every quarter of growth spent about a tenth of the
 * database's CPU of a sync burst on it. So only the columns that pick the hot
 * statements' plans are analyzed (about a third of the cost).
 */
export class TableStats {
  private readonly written = new Map<HotTable, number>();
  private readonly running = new Set<HotTable>();
  private readonly knownRows = new Map<HotTable, number>();

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    private readonly minRows = 5_000,
  ) {}

  recordWrites(table: HotTable, rows: number): void {
    const total = (this.written.get(table) ?? 0) + rows;
    this.written.set(table, total);
    const known = this.knownRows.get(table) ?? 0;
    if (total >= Math.max(this.minRows, known) && !this.running.has(table)) void this.analyze(table);
  }

  async analyze(table: HotTable): Promise<void> {
    this.running.add(table);
    try {
      const lockKey = table === 'scans' ? 7343101 : 7343102;
      await this.db.transaction(async (tx) => {
        if (!(await tryAdvisoryXactLock(tx, lockKey))) return;
        await analyzeColumns(tx, table, PLANNED_COLUMNS[table]);
        this.knownRows.set(table, await estimatedRows(tx, table));
      });
      this.written.set(table, 0);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, table }, 'ANALYZE failed; plans may be slow until the next attempt');
    } finally {
      this.running.delete(table);
    }
  }
}
