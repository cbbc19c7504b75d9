import type { Direction, ScanResult, SyncItemStatus, VerdictReason } from '@entrada/core';
import type {
  ManifestCursors,
  ManifestHeader,
  ManifestTicket,
  StoredManifest,
  TicketPatch,
} from '../manifest-types.ts';

/**
 * One scan in the device's log. Kept after acknowledgement: the device is a
 * backup of the server (export, audit, re-upload after a server restore).
 */
export interface OutboxScan {
  /** Per device and event, gap-free from 1. */
  seq: number;
  /** Chain link before this scan and through it (hex): the upload's prev_link is the first scan's prevLink. */
  prevLink: string;
  link: string;
  /** The id sent with the online attempt, when there was one (see scanner.ts on double counting). */
  scanId: string | null;
  qrcode: string;
  scannedAt: number;
  direction: Direction;
  gateId: string | null;
  localResult: ScanResult | null;
  localReason: VerdictReason | null;
  ticketId: string | null;
  /**
   * The staff member logged in on the device when it scanned (issue 13), uploaded with the scan. Outside the
   * chain's canonical text (which predates it); absent on scans recorded before it existed.
   */
  staffId?: string | null;
  synced: boolean;
  /** The server's answer for this scan, once it gave one. */
  server?:
    | { syncStatus: SyncItemStatus; verdict: string | null; reason: string | null; message: string; ambiguous: boolean }
    | undefined;
}

export interface AckResult {
  seq: number;
  syncStatus: SyncItemStatus;
  verdict: string | null;
  reason: string | null;
  message: string;
  ambiguous: boolean;
}

export interface OutboxCounts {
  total: number;
  pending: number;
  synced: number;
  lastSeq: number;
}

/** What `appendScan` hands the builder: the seq and link it must use. `prevLink` is null before seq 1 (use the chain genesis). */
export interface NextSlot {
  seq: number;
  prevLink: string | null;
}

/**
 * Everything the engine persists, behind one narrow interface so the browser
 * (IndexedDB), Node (files) and tests (memory) share one engine. Every method
 * is atomic: a crash leaves either the whole change or none of it.
 */
export interface ClientStore {
  getMeta<T>(key: string): Promise<T | undefined>;
  setMeta(key: string, value: unknown): Promise<void>;

  loadManifest(eventId: string): Promise<StoredManifest | undefined>;
  /** The manifest without its tickets: cursors and policies, cheap to read on every sync. */
  loadManifestHeader(eventId: string): Promise<Omit<StoredManifest, 'tickets'> | undefined>;
  /** Replaces the event's manifest (header, every ticket, cursor) in one step. */
  saveManifest(
    eventId: string,
    header: ManifestHeader,
    tickets: readonly ManifestTicket[],
    refreshedAt: number,
  ): Promise<void>;
  /** Merges changed tickets and advances the cursor(s) in one step. */
  applyManifestDelta(eventId: string, tickets: readonly TicketPatch[], cursors: ManifestCursors): Promise<void>;

  /**
   * Allocates the next seq and chain position and stores the scan the builder
   * returns, in one atomic step: never a gap, never a reused seq. The builder
   * must be synchronous and must return a scan with exactly the given seq.
   */
  appendScan(eventId: string, build: (next: NextSlot) => OutboxScan): Promise<OutboxScan>;
  /** Unacknowledged scans in seq order, lowest first. */
  pending(eventId: string, limit: number): Promise<OutboxScan[]>;
  /** Marks seq ≤ ackedThrough synced and records the server's per-scan answers (an answered scan is synced too). */
  acknowledge(eventId: string, ackedThrough: number, results: readonly AckResult[]): Promise<void>;
  all(eventId: string): Promise<OutboxScan[]>;
  /** Scans of one ticket (own log), for the local decision's overlay. */
  scansOfTicket(eventId: string, ticketId: string): Promise<OutboxScan[]>;
  counts(eventId: string): Promise<OutboxCounts>;
  oldestPendingAt(eventId: string): Promise<number | null>;
  /**
   * Storage limit: deletes acknowledged scans, oldest first, until at most
   * `keep` remain. Never a pending scan, and never the newest scan, whose link
   * the next scan chains on. Returns how many were deleted.
   */
  pruneSynced(eventId: string, keep: number): Promise<number>;
  /**
   * Storage limit (seed 004's `archiveOldFailedEvents(30)`): deletes the
   * scans the server answered `failed` or `conflict` that were scanned before
   * `cutoff` (see `archivable`). Never a scan without the server's answer,
   * never one it refused to store, never the newest scan. Returns how many.
   */
  archiveAnswered(eventId: string, cutoff: number): Promise<number>;

  /**
   * Damage found when the store opened its data (unreadable records or files):
   * what was kept, what was set aside and where. Stores that cannot detect
   * damage leave it out. The engine shows these to the user.
   */
  problems?(): Promise<StorageProblem[]>;

  close(): Promise<void>;
}

export interface StorageProblem {
  /** What was damaged: the scan log of an event, the settings, or a manifest. */
  part: 'outbox' | 'meta' | 'manifest';
  eventId: string | null;
  /** Readable records kept; unreadable ones skipped (a lost scan shows as a seq gap the server reports missing). */
  kept: number;
  skipped: number;
  /** Where the damaged original was copied before anything was changed, for investigation. */
  preservedAs: string | null;
  message: string;
}

/**
 * A scan that may leave the device's live log once old: the server answered
 * it as `failed` (e.g. an unknown code) or `conflict` (a double entry), so it
 * holds the scan itself — every uploaded scan is stored whatever its verdict,
 * and the organisers review conflicts there. A scan the server refused to
 * take at all (`refused`, set aside by the sync loop) is not on the server:
 * it stays, as does everything synced as admitted (pruned by count instead).
 */
export function archivable(scan: OutboxScan, cutoff: number): boolean {
  const answer = scan.server;
  if (!scan.synced || !answer || answer.reason === 'refused') return false;
  return (answer.syncStatus === 'failed' || answer.syncStatus === 'conflict') && scan.scannedAt < cutoff;
}

/** The seqs `archiveAnswered` removes from a log in seq order: never the last scan, whose link the next one chains on. */
export function seqsToArchive(scans: readonly OutboxScan[], cutoff: number): Set<number> {
  const lastSeq = scans.at(-1)?.seq;
  return new Set(scans.filter((s) => s.seq !== lastSeq && archivable(s, cutoff)).map((s) => s.seq));
}

/** The seqs `pruneSynced` removes from a log in seq order: the oldest synced ones beyond `keep`, never the last scan. */
export function seqsToPrune(scans: readonly OutboxScan[], keep: number): Set<number> {
  const lastSeq = scans.at(-1)?.seq;
  const synced = scans.filter((s) => s.synced);
  const excess = synced.length - Math.max(0, keep);
  return new Set(
    synced
      .slice(0, Math.max(0, excess))
      .map((s) => s.seq)
      .filter((seq) => seq !== lastSeq),
  );
}

export function checkSlot(scan: OutboxScan, slot: NextSlot): void {
  if (scan.seq !== slot.seq) throw new Error(`appendScan builder returned seq ${scan.seq}, expected ${slot.seq}`);
}

/**
 * Applies an acknowledgement to one scan; shared by every store so they agree
 * exactly. A scan is done (synced) once it is at or below the contiguous
 * high-water mark, or once the server answered it by itself: an answer comes
 * after the commit that stored it (or, for a scan the server refused by name,
 * says it never will) — so scans above a gap are not sent again and again.
 */
export function acknowledged(scan: OutboxScan, ackedThrough: number, result: AckResult | undefined): OutboxScan {
  const synced = scan.synced || scan.seq <= ackedThrough || result !== undefined;
  if (!result && synced === scan.synced) return scan;
  return {
    ...scan,
    synced,
    server: result
      ? {
          syncStatus: result.syncStatus,
          verdict: result.verdict,
          reason: result.reason,
          message: result.message,
          ambiguous: result.ambiguous,
        }
      : scan.server,
  };
}
