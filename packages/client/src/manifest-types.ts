/**
 * What the client keeps of the manifest and feed (GET /api/v1/offline/manifest/:eventId,
 * GET /api/v1/offline/events), whose shapes are core's. Field names stay in the wire's
 * snake_case so a stored manifest is exactly what was downloaded.
 */

import type { FeedEvent, ManifestDocument, ManifestHeader, ManifestTicket } from '@entrada/core';

/** The wire's shapes are core's protocol types (the server's response schemas). */
export type {
  FeedEvent,
  FeedPage,
  ManifestDocument,
  ManifestHeader,
  ManifestScanRef,
  ManifestStatusChange,
  ManifestTicket,
} from '@entrada/core';

/** What the store keeps: the header, when this device received it (its own clock), and the feed cursor. */
export interface StoredManifest {
  header: ManifestHeader;
  /** Device clock when the manifest or its last delta arrived: staleness is judged on it. */
  refreshedAt: number;
  feedCursor: string | null;
  tickets: Map<string, ManifestTicket>;
}

/** What a download changed, so a scanner can update its in-memory index without reading every ticket back. */
export type ManifestUpdate =
  { kind: 'full' } | { kind: 'delta'; header: ManifestHeader; refreshedAt: number; patches: readonly TicketPatch[] };

/** A partial ticket update (from the feed); merged into the stored ticket by ticket_id. */
export type TicketPatch = Partial<ManifestTicket> & { ticket_id: string };

export interface ManifestCursors {
  /** The manifest's `since=` cursor. */
  manifest?: string;
  /** Replaces the stored header: a delta carries the event's current gates, ticket types, keys and policies. */
  header?: ManifestHeader;
  /** The download feed's cursor. */
  feed?: string;
  /** Device clock of the download. */
  refreshedAt: number;
}

/** The ticket-state patches a feed page implies: other devices' scans arrive with their ticket's state now. */
export function feedPatches(events: readonly FeedEvent[]): TicketPatch[] {
  const out = new Map<string, TicketPatch>();
  for (const e of events) {
    const t = e.kind === 'ticket' ? e : e.ticket;
    if (!t) continue;
    // Later items in a page are later in commit order: the last one wins.
    out.set(t.ticket_id, {
      ticket_id: t.ticket_id,
      serial: t.serial,
      status: t.status,
      status_changed_at: t.status_changed_at,
      current_scans: t.current_scans,
      inside: t.inside,
      first_scan: t.first_scan,
      last_scan: t.last_scan,
      ...(t.status_history ? { status_history: t.status_history } : {}),
    });
  }
  return [...out.values()];
}

export function mergeTicket(current: ManifestTicket | undefined, patch: TicketPatch): ManifestTicket {
  if (!current) return { current_scans: 0, inside: false, status: 'valid', serial: 0, ...patch };
  return { ...current, ...patch };
}

export function splitManifest(doc: ManifestDocument): { header: ManifestHeader; tickets: ManifestTicket[] } {
  const { tickets, ticket_count: _count, ...header } = doc;
  return { header, tickets };
}
