import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import {
  MemoryStore,
  mergeTicket,
  type AckResult,
  type ManifestCursors,
  type ManifestHeader,
  type ManifestTicket,
  type StoredManifest,
  type TicketPatch,
} from '@entrada/client';
import type { Verifier } from '@entrada/core';

/**
 * The ticket maps the simulated devices read: one copy for every device whose
 * download had the same content, instead of one per device.
 */
export interface ManifestPool {
  /** The map of the last full manifest saved with new content; a later download with the same content reuses it. */
  tickets: Map<string, ManifestTicket> | null;
  /** Full manifests saved into the shared map, and distinct maps built (1 when every device downloaded the same tickets). */
  stats: { shared: number; built: number };
}

export function manifestPool(): ManifestPool {
  return { tickets: null, stats: { shared: 0, built: 0 } };
}

/** Deep equality of two JSON values (what a manifest ticket is made of). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra);
  if (ka.length !== Object.keys(rb).length) return false;
  for (const k of ka) if (!Object.hasOwn(rb, k) || !sameJson(ra[k], rb[k])) return false;
  return true;
}

/**
 * A MemoryStore (the engine's own, for the outbox and sync marks) whose
 * manifest ticket map is shared by the simulated devices that downloaded the
 * same tickets.
 *
 * Why: a MemoryStore keeps a structured clone of the manifest per device and
 * clones it again on every load, so 50 devices × 100,000 tickets would hold
 * 5 million ticket objects (gigabytes). Each device still downloads and parses
 * the full manifest over HTTP through its own SyncLoop and keeps its own
 * header and cursors. Its tickets are then compared, one by one, with the
 * pool's map: when every ticket is equal (no scan happened between the
 * downloads) the device reads the pool's map, so its offline verdicts are made
 * on exactly the data it downloaded. When any ticket differs, the device gets
 * a map of its own (reusing the pool's objects for the equal tickets), which
 * becomes the pool's map for the next downloads. Sharing is by content, not by
 * manifest cursor: the cursor is a PostgreSQL snapshot position that any
 * transaction on the database server moves, so two downloads of the same
 * tickets seconds apart rarely have the same cursor.
 *
 * Offline verdicts do not change the map (a device's own admissions come from
 * its outbox). After the reconnect, deltas and feed pages are merged into the
 * map the device reads, which other devices may share: a device may then see a
 * ticket state before it downloads it itself. Harmless here, because nothing
 * is scanned after the reconnect; the convergence checks use the outboxes and
 * the server, not the maps.
 */
export class SimStore extends MemoryStore {
  private own: StoredManifest | null = null;

  constructor(
    private readonly pool: ManifestPool,
    private readonly onAck: (ackedThrough: number) => void,
  ) {
    super();
  }

  override async loadManifest(): Promise<StoredManifest | undefined> {
    return this.own ? { ...this.own } : undefined;
  }

  override async saveManifest(
    _eventId: string,
    header: ManifestHeader,
    tickets: readonly ManifestTicket[],
    refreshedAt: number,
  ): Promise<void> {
    const pooled = this.pool.tickets;
    let map: Map<string, ManifestTicket>;
    if (
      pooled !== null &&
      pooled.size === tickets.length &&
      tickets.every((t) => sameJson(pooled.get(t.ticket_id), t))
    ) {
      map = pooled;
      this.pool.stats.shared++;
    } else {
      map = new Map();
      for (const t of tickets) {
        const before = pooled?.get(t.ticket_id);
        if (before !== undefined && sameJson(before, t)) map.set(before.ticket_id, before);
        else map.set(t.ticket_id, t);
      }
      this.pool.tickets = map;
      this.pool.stats.built++;
    }
    this.own = { header, refreshedAt, feedCursor: this.own?.feedCursor ?? null, tickets: map };
  }

  override async applyManifestDelta(
    eventId: string,
    patches: readonly TicketPatch[],
    cursors: ManifestCursors,
  ): Promise<void> {
    const own = this.own;
    if (!own) throw new Error(`no manifest for event ${eventId}: download the full manifest first`);
    for (const p of patches) own.tickets.set(p.ticket_id, mergeTicket(own.tickets.get(p.ticket_id), p));
    // A delta carries the event's current header (gates, types, keys, policies): it replaces the stored one, as in MemoryStore.
    const header = cursors.header ?? own.header;
    this.own = {
      header: cursors.manifest !== undefined ? { ...header, cursor: cursors.manifest } : header,
      feedCursor: cursors.feed !== undefined ? cursors.feed : own.feedCursor,
      refreshedAt: cursors.refreshedAt,
      tickets: own.tickets,
    };
  }

  /** Every upload batch's acknowledgement passes here: the progress bar counts them. */
  override async acknowledge(eventId: string, ackedThrough: number, results: readonly AckResult[]): Promise<void> {
    await super.acknowledge(eventId, ackedThrough, results);
    this.onAck(ackedThrough);
  }
}

const publicKeys = new Map<string, KeyObject>();

/**
 * Native Ed25519 verification (OpenSSL) of signed ticket codes: about 10x
 * core's pure-JS one, which matters at 100,000+ offline scans. The same as the
 * server's `nodeVerifier`, here so the simulator does not load the whole server
 * package (Fastify, pg, PGlite: about 60 MB) to get it.
 */
export const nativeVerifier: Verifier = (publicKey, message, signature) => {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  const id = Buffer.from(publicKey).toString('base64url');
  try {
    let key = publicKeys.get(id);
    if (!key) {
      key = createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: id } });
      publicKeys.set(id, key);
    }
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
};
