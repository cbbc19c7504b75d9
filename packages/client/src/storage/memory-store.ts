import type {
  ManifestCursors,
  ManifestHeader,
  ManifestTicket,
  StoredManifest,
  TicketPatch,
} from '../manifest-types.ts';
import { mergeTicket } from '../manifest-types.ts';
import { Mutex } from './lock.ts';
import {
  acknowledged,
  checkSlot,
  seqsToArchive,
  seqsToPrune,
  type AckResult,
  type ClientStore,
  type NextSlot,
  type OutboxCounts,
  type OutboxScan,
} from './types.ts';

/** What survives a "crash" of a MemoryStore: pass the same backing to a new store to reopen it. */
export interface MemoryBacking {
  meta: Map<string, unknown>;
  manifests: Map<string, StoredManifest>;
  outbox: Map<string, OutboxScan[]>;
}

export function memoryBacking(): MemoryBacking {
  return { meta: new Map(), manifests: new Map(), outbox: new Map() };
}

/** For tests and simulation. Values are copied in and out, as a real store would serialise them. */
export class MemoryStore implements ClientStore {
  private readonly mutex = new Mutex();

  constructor(private readonly backing: MemoryBacking = memoryBacking()) {}

  async getMeta<T>(key: string): Promise<T | undefined> {
    const v = this.backing.meta.get(key);
    return v === undefined ? undefined : (structuredClone(v) as T);
  }

  setMeta(key: string, value: unknown): Promise<void> {
    return this.mutex.run(() => {
      this.backing.meta.set(key, structuredClone(value));
    });
  }

  async loadManifest(eventId: string): Promise<StoredManifest | undefined> {
    const m = this.backing.manifests.get(eventId);
    return m ? structuredClone(m) : undefined;
  }

  async loadManifestHeader(eventId: string): Promise<Omit<StoredManifest, 'tickets'> | undefined> {
    // Through loadManifest, so a subclass that keeps manifests elsewhere (the CLI's simulator) stays consistent.
    const m = await this.loadManifest(eventId);
    if (!m) return undefined;
    const { tickets: _tickets, ...rest } = m;
    return rest;
  }

  saveManifest(
    eventId: string,
    header: ManifestHeader,
    tickets: readonly ManifestTicket[],
    refreshedAt: number,
  ): Promise<void> {
    return this.mutex.run(() => {
      this.backing.manifests.set(
        eventId,
        structuredClone({
          header,
          refreshedAt,
          feedCursor: this.backing.manifests.get(eventId)?.feedCursor ?? null,
          tickets: new Map(tickets.map((t) => [t.ticket_id, t])),
        }),
      );
    });
  }

  applyManifestDelta(eventId: string, patches: readonly TicketPatch[], cursors: ManifestCursors): Promise<void> {
    return this.mutex.run(() => {
      const m = this.backing.manifests.get(eventId);
      if (!m) throw new Error(`no manifest for event ${eventId}: download the full manifest first`);
      // Built on a copy and swapped in, so a throw half-way changes nothing.
      const next: StoredManifest = structuredClone(m);
      for (const p of patches)
        next.tickets.set(p.ticket_id, mergeTicket(next.tickets.get(p.ticket_id), structuredClone(p)));
      if (cursors.header !== undefined) next.header = structuredClone(cursors.header);
      if (cursors.manifest !== undefined) next.header.cursor = cursors.manifest;
      if (cursors.feed !== undefined) next.feedCursor = cursors.feed;
      next.refreshedAt = cursors.refreshedAt;
      this.backing.manifests.set(eventId, next);
    });
  }

  appendScan(eventId: string, build: (next: NextSlot) => OutboxScan): Promise<OutboxScan> {
    return this.mutex.run(() => {
      const log = this.log(eventId);
      const last = log.at(-1);
      const slot: NextSlot = { seq: (last?.seq ?? 0) + 1, prevLink: last?.link ?? null };
      const scan = build(slot);
      checkSlot(scan, slot);
      log.push(structuredClone(scan));
      return structuredClone(scan);
    });
  }

  async pending(eventId: string, limit: number): Promise<OutboxScan[]> {
    return structuredClone(
      this.log(eventId)
        .filter((s) => !s.synced)
        .slice(0, limit),
    );
  }

  acknowledge(eventId: string, ackedThrough: number, results: readonly AckResult[]): Promise<void> {
    return this.mutex.run(() => {
      const bySeq = new Map(results.map((r) => [r.seq, r]));
      this.backing.outbox.set(
        eventId,
        this.log(eventId).map((s) => acknowledged(s, ackedThrough, bySeq.get(s.seq))),
      );
    });
  }

  async all(eventId: string): Promise<OutboxScan[]> {
    return structuredClone(this.log(eventId));
  }

  async scansOfTicket(eventId: string, ticketId: string): Promise<OutboxScan[]> {
    return structuredClone(this.log(eventId).filter((s) => s.ticketId === ticketId));
  }

  async counts(eventId: string): Promise<OutboxCounts> {
    const log = this.log(eventId);
    const pending = log.filter((s) => !s.synced).length;
    return { total: log.length, pending, synced: log.length - pending, lastSeq: log.at(-1)?.seq ?? 0 };
  }

  async oldestPendingAt(eventId: string): Promise<number | null> {
    return this.log(eventId).find((s) => !s.synced)?.scannedAt ?? null;
  }

  async pruneSynced(eventId: string, keep: number): Promise<number> {
    return this.mutex.run(() => {
      const log = this.log(eventId);
      const drop = seqsToPrune(log, keep);
      if (drop.size > 0)
        this.backing.outbox.set(
          eventId,
          log.filter((s) => !drop.has(s.seq)),
        );
      return drop.size;
    });
  }

  archiveAnswered(eventId: string, cutoff: number): Promise<number> {
    return this.mutex.run(() => {
      const log = this.log(eventId);
      const drop = seqsToArchive(log, cutoff);
      if (drop.size > 0)
        this.backing.outbox.set(
          eventId,
          log.filter((s) => !drop.has(s.seq)),
        );
      return drop.size;
    });
  }

  async close(): Promise<void> {}

  private log(eventId: string): OutboxScan[] {
    let log = this.backing.outbox.get(eventId);
    if (!log) {
      log = [];
      this.backing.outbox.set(eventId, log);
    }
    return log;
  }
}
