import { nodeVerifier } from '@entrada/server';
import {
  MemoryStore, mergeTicket, type AckResult, type ManifestCursors, type ManifestHeader, type ManifestTicket, type StoredManifest, type TicketPatch,
} from '@entrada/client';
import type { Verifier } from '@entrada/core';

/** The ticket map every simulated device reads: one copy instead of one per device. */
export interface ManifestPool {
  cursor: string | null;
  tickets: Map<string, ManifestTicket> | null;
}

/**
 * A MemoryStore (the engine's own, for the outbox and sync marks) whose
 * manifest tickets live in a pool shared by all simulated devices.
 *
 * Why: a MemoryStore keeps a structured clone of the manifest per device and
 * clones it again on every load, so 50 devices × 100,000 tickets would hold
 * well over 100 million ticket objects' worth of copies (gigabytes). Each device
 * still downloads the full manifest over HTTP and keeps its own header and
 * cursors; only the ticket map is shared, and it is not cloned on load. Offline
 * verdicts do not change it (a device's own admissions come from its outbox),
 * so it is the same for every device while they scan. After reconnecting, feed
 * patches from all devices land in the one map — harmless here, because nothing
 * is scanned after the reconnect.
 */
export class SimStore extends MemoryStore {
  private own: Omit<StoredManifest, 'tickets'> | null = null;

  constructor(private readonly pool: ManifestPool, private readonly onAck: (ackedThrough: number) => void) {
    super();
  }

  override async loadManifest(): Promise<StoredManifest | undefined> {
    if (!this.own || !this.pool.tickets) return undefined;
    return { ...this.own, tickets: this.pool.tickets };
  }

  override async saveManifest(_eventId: string, header: ManifestHeader, tickets: readonly ManifestTicket[], refreshedAt: number): Promise<void> {
    if (this.pool.tickets === null || this.pool.cursor !== header.cursor) {
      this.pool.tickets = new Map(tickets.map((t) => [t.ticket_id, t]));
      this.pool.cursor = header.cursor;
    }
    this.own = { header, refreshedAt, feedCursor: this.own?.feedCursor ?? null };
  }

  override async applyManifestDelta(eventId: string, patches: readonly TicketPatch[], cursors: ManifestCursors): Promise<void> {
    const tickets = this.pool.tickets;
    if (!this.own || !tickets) throw new Error(`no manifest for event ${eventId}: download the full manifest first`);
    for (const p of patches) tickets.set(p.ticket_id, mergeTicket(tickets.get(p.ticket_id), p));
    this.own = {
      header: cursors.manifest !== undefined ? { ...this.own.header, cursor: cursors.manifest } : this.own.header,
      feedCursor: cursors.feed !== undefined ? cursors.feed : this.own.feedCursor,
      refreshedAt: cursors.refreshedAt,
    };
  }

  /** Every upload batch's acknowledgement passes here: the progress bar counts them. */
  override async acknowledge(eventId: string, ackedThrough: number, results: readonly AckResult[]): Promise<void> {
    await super.acknowledge(eventId, ackedThrough, results);
    this.onAck(ackedThrough);
  }
}

/** Native Ed25519 verification (OpenSSL) of signed ticket codes: about 10x core's pure-JS one, which matters at 100,000+ offline scans. */
export const nativeVerifier: Verifier = nodeVerifier;
