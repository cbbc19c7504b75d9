import { Dexie, type Table } from 'dexie';
import type {
  ManifestCursors,
  ManifestHeader,
  ManifestTicket,
  StoredManifest,
  TicketPatch,
} from '../manifest-types.ts';
import { mergeTicket } from '../manifest-types.ts';
import {
  acknowledged,
  archivable,
  checkSlot,
  type AckResult,
  type ClientStore,
  type NextSlot,
  type OutboxCounts,
  type OutboxScan,
} from './types.ts';

interface MetaRow {
  key: string;
  value: unknown;
}
interface ManifestRow {
  eventId: string;
  header: ManifestHeader;
  refreshedAt: number;
  feedCursor: string | null;
}
type TicketRow = ManifestTicket & { eventId: string };
/** A bucket of the manifest's tickets (see TICKET_BUCKETS). */
interface ChunkRow {
  eventId: string;
  bucket: number;
  tickets: ManifestTicket[];
}
/** `pend` is 1 while unacknowledged: IndexedDB cannot index booleans. */
type OutboxRow = OutboxScan & { eventId: string; pend: 0 | 1 };

class EntradaDb extends Dexie {
  meta!: Table<MetaRow, string>;
  manifests!: Table<ManifestRow, string>;
  ticketBuckets!: Table<ChunkRow, [string, number]>;
  outbox!: Table<OutboxRow, [string, number]>;

  constructor(name: string, options: ConstructorParameters<typeof Dexie>[1]) {
    super(name, options);
    this.version(1).stores({
      meta: 'key',
      manifests: 'eventId',
      tickets: '[eventId+ticket_id]',
      outbox: '[eventId+seq], [eventId+pend+seq], [eventId+ticketId]',
    });
    // One record per ticket cost ~20 s to write 100,000 tickets in Chromium (IndexedDB's per-record
    // overhead); the same tickets in 256 bucket records take a fraction of that. See docs/benchmarks.md.
    this.version(2)
      .stores({ tickets: null, ticketBuckets: '[eventId+bucket]' })
      .upgrade(async (tx) => {
        const rows = (await tx.table('tickets').toArray()) as TicketRow[];
        const byEvent = new Map<string, ManifestTicket[]>();
        for (const r of rows) {
          const list = byEvent.get(r.eventId) ?? [];
          list.push(fromTicketRow(r));
          byEvent.set(r.eventId, list);
        }
        for (const [eventId, tickets] of byEvent) await tx.table('ticketBuckets').bulkPut(bucketRows(eventId, tickets));
      });
  }
}

/** Tickets are spread over this many records by a hash of their id: few records to write, and a delta rewrites only the buckets it touches. */
const TICKET_BUCKETS = 256;

function bucketOf(ticketId: string): number {
  // FNV-1a over the id's characters: stable across sessions and platforms.
  let h = 0x811c9dc5;
  for (let i = 0; i < ticketId.length; i++) {
    h ^= ticketId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % TICKET_BUCKETS;
}

function bucketRows(eventId: string, tickets: Iterable<ManifestTicket>): ChunkRow[] {
  const buckets = new Map<number, ManifestTicket[]>();
  for (const t of tickets) {
    const b = bucketOf(t.ticket_id);
    const list = buckets.get(b);
    if (list) list.push(t);
    else buckets.set(b, [t]);
  }
  return [...buckets].map(([bucket, list]) => ({ eventId, bucket, tickets: list }));
}

function toRow(eventId: string, s: OutboxScan): OutboxRow {
  return { ...s, eventId, pend: s.synced ? 0 : 1 };
}

function fromRow(row: OutboxRow): OutboxScan {
  const { eventId: _e, pend: _p, ...scan } = row;
  return scan;
}

function fromTicketRow(row: TicketRow): ManifestTicket {
  const { eventId: _e, ...ticket } = row;
  return ticket;
}

interface StorageManagerLike {
  persist?: () => Promise<boolean>;
  persisted?: () => Promise<boolean>;
}

/**
 * Asks the browser not to evict our data under storage pressure: the outbox may
 * hold the only copy of scans. Best effort; absent outside browsers.
 */
export async function requestPersistentStorage(): Promise<boolean> {
  const storage = (globalThis as { navigator?: { storage?: StorageManagerLike } }).navigator?.storage;
  if (!storage?.persist) return false;
  try {
    if (storage.persisted && (await storage.persisted())) return true;
    return await storage.persist();
  } catch {
    return false;
  }
}

/**
 * IndexedDB through Dexie. Seq allocation and the write are one readwrite
 * transaction on the outbox table, which IndexedDB serialises: concurrent
 * appends from several tabs or calls cannot take the same seq.
 */
export class DexieStore implements ClientStore {
  private readonly db: EntradaDb;

  /** `options` passes `indexedDB`/`IDBKeyRange` for tests (fake-indexeddb) or non-window contexts. */
  constructor(name = 'entrada-client', options: ConstructorParameters<typeof Dexie>[1] = {}) {
    this.db = new EntradaDb(name, options);
  }

  static async open(
    name = 'entrada-client',
    options: ConstructorParameters<typeof Dexie>[1] = {},
  ): Promise<DexieStore> {
    const store = new DexieStore(name, options);
    await store.db.open();
    await requestPersistentStorage();
    return store;
  }

  async getMeta<T>(key: string): Promise<T | undefined> {
    return (await this.db.meta.get(key))?.value as T | undefined;
  }

  async setMeta(key: string, value: unknown): Promise<void> {
    await this.db.meta.put({ key, value });
  }

  async loadManifest(eventId: string): Promise<StoredManifest | undefined> {
    return this.db.transaction('r', this.db.manifests, this.db.ticketBuckets, async () => {
      const m = await this.db.manifests.get(eventId);
      if (!m) return undefined;
      const tickets = new Map<string, ManifestTicket>();
      for (const row of await this.bucketsOf(eventId).toArray())
        for (const t of row.tickets) tickets.set(t.ticket_id, t);
      return { header: m.header, refreshedAt: m.refreshedAt, feedCursor: m.feedCursor, tickets };
    });
  }

  async loadManifestHeader(eventId: string): Promise<Omit<StoredManifest, 'tickets'> | undefined> {
    const m = await this.db.manifests.get(eventId);
    return m ? { header: m.header, refreshedAt: m.refreshedAt, feedCursor: m.feedCursor } : undefined;
  }

  async saveManifest(
    eventId: string,
    header: ManifestHeader,
    tickets: readonly ManifestTicket[],
    refreshedAt: number,
  ): Promise<void> {
    await this.db.transaction('rw', this.db.manifests, this.db.ticketBuckets, async () => {
      const before = await this.db.manifests.get(eventId);
      await this.bucketsOf(eventId).delete();
      await this.db.ticketBuckets.bulkPut(bucketRows(eventId, tickets));
      await this.db.manifests.put({ eventId, header, refreshedAt, feedCursor: before?.feedCursor ?? null });
    });
  }

  async applyManifestDelta(eventId: string, patches: readonly TicketPatch[], cursors: ManifestCursors): Promise<void> {
    await this.db.transaction('rw', this.db.manifests, this.db.ticketBuckets, async () => {
      const m = await this.db.manifests.get(eventId);
      if (!m) throw new Error(`no manifest for event ${eventId}: download the full manifest first`);
      if (patches.length > 0) {
        // Read-modify-write of only the buckets the patches fall in.
        const touched = [...new Set(patches.map((p) => bucketOf(p.ticket_id)))];
        const rows = await this.db.ticketBuckets.bulkGet(touched.map((b) => [eventId, b] as [string, number]));
        const buckets = new Map(
          touched.map((b, i) => [b, new Map((rows[i]?.tickets ?? []).map((t) => [t.ticket_id, t]))]),
        );
        for (const p of patches) {
          const bucket = buckets.get(bucketOf(p.ticket_id))!;
          bucket.set(p.ticket_id, mergeTicket(bucket.get(p.ticket_id), p));
        }
        await this.db.ticketBuckets.bulkPut(
          [...buckets].map(([bucket, list]) => ({ eventId, bucket, tickets: [...list.values()] })),
        );
      }
      await this.db.manifests.put({
        eventId,
        header:
          cursors.manifest !== undefined
            ? { ...(cursors.header ?? m.header), cursor: cursors.manifest }
            : (cursors.header ?? m.header),
        refreshedAt: cursors.refreshedAt,
        feedCursor: cursors.feed ?? m.feedCursor,
      });
    });
  }

  private bucketsOf(eventId: string) {
    return this.db.ticketBuckets.where('[eventId+bucket]').between([eventId, Dexie.minKey], [eventId, Dexie.maxKey]);
  }

  async appendScan(eventId: string, build: (next: NextSlot) => OutboxScan): Promise<OutboxScan> {
    return this.db.transaction('rw', this.db.outbox, async () => {
      const last = await this.db.outbox
        .where('[eventId+seq]')
        .between([eventId, Dexie.minKey], [eventId, Dexie.maxKey])
        .last();
      const slot: NextSlot = { seq: (last?.seq ?? 0) + 1, prevLink: last?.link ?? null };
      const scan = build(slot);
      checkSlot(scan, slot);
      // add (not put): a seq that somehow exists already fails the transaction instead of overwriting.
      await this.db.outbox.add(toRow(eventId, scan));
      return scan;
    });
  }

  async pending(eventId: string, limit: number): Promise<OutboxScan[]> {
    const rows = await this.db.outbox
      .where('[eventId+pend+seq]')
      .between([eventId, 1, Dexie.minKey], [eventId, 1, Dexie.maxKey])
      .limit(limit)
      .toArray();
    return rows.map(fromRow);
  }

  async acknowledge(eventId: string, ackedThrough: number, results: readonly AckResult[]): Promise<void> {
    await this.db.transaction('rw', this.db.outbox, async () => {
      const bySeq = new Map(results.map((r) => [r.seq, r]));
      const acked = await this.db.outbox
        .where('[eventId+pend+seq]')
        .between([eventId, 1, 0], [eventId, 1, ackedThrough], true, true)
        .toArray();
      const answered = (await this.db.outbox.bulkGet(results.map((r) => [eventId, r.seq] as [string, number]))).filter(
        (r) => r !== undefined,
      );
      const rows = new Map<number, OutboxRow>();
      for (const r of [...acked, ...answered]) rows.set(r.seq, r);
      await this.db.outbox.bulkPut(
        [...rows.values()].map((r) => toRow(eventId, acknowledged(fromRow(r), ackedThrough, bySeq.get(r.seq)))),
      );
    });
  }

  async all(eventId: string): Promise<OutboxScan[]> {
    return (
      await this.db.outbox.where('[eventId+seq]').between([eventId, Dexie.minKey], [eventId, Dexie.maxKey]).toArray()
    ).map(fromRow);
  }

  async scansOfTicket(eventId: string, ticketId: string): Promise<OutboxScan[]> {
    const rows = await this.db.outbox.where('[eventId+ticketId]').equals([eventId, ticketId]).toArray();
    return rows.map(fromRow).sort((a, b) => a.seq - b.seq);
  }

  async counts(eventId: string): Promise<OutboxCounts> {
    return this.db.transaction('r', this.db.outbox, async () => {
      const range = this.db.outbox.where('[eventId+seq]').between([eventId, Dexie.minKey], [eventId, Dexie.maxKey]);
      const total = await range.count();
      const last = await this.db.outbox
        .where('[eventId+seq]')
        .between([eventId, Dexie.minKey], [eventId, Dexie.maxKey])
        .last();
      const pending = await this.db.outbox
        .where('[eventId+pend+seq]')
        .between([eventId, 1, Dexie.minKey], [eventId, 1, Dexie.maxKey])
        .count();
      return { total, pending, synced: total - pending, lastSeq: last?.seq ?? 0 };
    });
  }

  async archiveAnswered(eventId: string, cutoff: number): Promise<number> {
    return this.db.transaction('rw', this.db.outbox, async () => {
      const last = await this.db.outbox
        .where('[eventId+seq]')
        .between([eventId, Dexie.minKey], [eventId, Dexie.maxKey])
        .last();
      // Acknowledged scans only (pend 0): a pending scan is never even read here.
      const keys = await this.db.outbox
        .where('[eventId+pend+seq]')
        .between([eventId, 0, Dexie.minKey], [eventId, 0, Dexie.maxKey])
        .filter((r) => r.seq !== last?.seq && archivable(fromRow(r), cutoff))
        .primaryKeys();
      await this.db.outbox.bulkDelete(keys);
      return keys.length;
    });
  }

  async pruneSynced(eventId: string, keep: number): Promise<number> {
    return this.db.transaction('rw', this.db.outbox, async () => {
      const synced = this.db.outbox
        .where('[eventId+pend+seq]')
        .between([eventId, 0, Dexie.minKey], [eventId, 0, Dexie.maxKey]);
      const excess = (await synced.count()) - Math.max(0, keep);
      if (excess <= 0) return 0;
      const last = await this.db.outbox
        .where('[eventId+seq]')
        .between([eventId, Dexie.minKey], [eventId, Dexie.maxKey])
        .last();
      // Synced scans in seq order: the oldest `excess` go, except the newest scan of all (the chain continues from its link).
      const keys = (
        await this.db.outbox
          .where('[eventId+pend+seq]')
          .between([eventId, 0, Dexie.minKey], [eventId, 0, Dexie.maxKey])
          .limit(excess)
          .toArray()
      )
        .filter((r) => r.seq !== last?.seq)
        .map((r) => [eventId, r.seq] as [string, number]);
      await this.db.outbox.bulkDelete(keys);
      return keys.length;
    });
  }

  async oldestPendingAt(eventId: string): Promise<number | null> {
    const first = await this.db.outbox
      .where('[eventId+pend+seq]')
      .between([eventId, 1, Dexie.minKey], [eventId, 1, Dexie.maxKey])
      .first();
    return first?.scannedAt ?? null;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
