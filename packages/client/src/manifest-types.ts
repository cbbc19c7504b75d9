/**
 * The manifest and feed as the server sends them (GET /api/v1/offline/manifest/:eventId,
 * GET /api/v1/offline/events). Field names stay in the wire's snake_case so a stored
 * manifest is exactly what was downloaded.
 */

export interface ManifestScanRef { at: string; device_id: string; gate_id: string | null }

export interface ManifestStatusChange { at: string; status: string }

export interface ManifestTicket {
  ticket_id: string;
  serial: number;
  number?: string;
  tier?: string;
  type_id?: string;
  zones?: readonly string[];
  max_scans?: number;
  current_scans: number;
  inside: boolean;
  status: string;
  status_changed_at?: string | null;
  /** Every status change, oldest first (only tickets whose status ever changed): scans are judged on the status at their time. */
  status_history?: ManifestStatusChange[];
  /** First 8 bytes of HMAC-SHA256(code_key, code), base64url; imported codes only. */
  code_digest?: string;
  holder_name?: string | null;
  first_scan?: ManifestScanRef | null;
  last_scan?: (ManifestScanRef & { direction: string }) | null;
}

export interface ManifestHeader {
  event_id: string;
  event: { id: string; ref: number; name: string; timezone: string; starts_at: string | null; ends_at: string | null };
  generated_at: string;
  expires_at: string;
  cursor: string;
  full: boolean;
  policies: { duplicate_window_s: number; default_allow_reentry: boolean; holder_names: boolean; timezone: string };
  /** `closed_at`: a closed gate (entries from then on are refused `gate_closed`). */
  gates: Array<{ id: string; name: string; zone_ids: string[]; closed_at?: string | null }>;
  /** `capacity_mode` (issue 14): how the server counts the capacity; offline devices never refuse for it. */
  zones: Array<{ id: string; name: string; capacity: number | null; capacity_mode?: 'off' | 'warn' | 'enforce' }>;
  ticket_types: Array<{
    id: string; ref: number; name: string; zone_ids: string[]; max_scans: number; allow_reentry: boolean;
    valid_from: string | null; valid_until: string | null;
  }>;
  keys: Array<{ key_id: number; public_key: string; active: boolean }>;
  /**
   * The organisation's other events and their public keys: a signed code of one of them that verifies is
   * `wrong_event`, anything else naming another event is refused as forged. Absent from older servers (and
   * then every other event's code is refused as the server would for another organisation's).
   */
  other_events?: Array<{ ref: number; keys: Array<{ key_id: number; public_key: string }> }>;
  code_digest: { algorithm: string; bytes: number; key: string };
}

export interface ManifestDocument extends ManifestHeader {
  ticket_count: number;
  tickets: ManifestTicket[];
  /** Where this device's download feed starts: everything before it is in this manifest (absent from older servers). */
  feed_cursor?: string;
}

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
  | { kind: 'full' }
  | { kind: 'delta'; header: ManifestHeader; refreshedAt: number; patches: readonly TicketPatch[] };

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

interface FeedTicketState {
  ticket_id: string; serial: number; status: string; status_changed_at: string | null; current_scans: number; inside: boolean;
  version: number; status_history?: ManifestStatusChange[]; first_scan: ManifestScanRef | null; last_scan: (ManifestScanRef & { direction: string }) | null;
}

export type FeedEvent =
  | ({ kind: 'ticket' } & FeedTicketState)
  | {
    kind: 'scan'; scan_id: string; ticket_id: string | null; device_id: string; seq: number | null; scanned_at: string | null;
    direction: string; gate_id: string | null; result: string; reason: string; verdict: string; revision: number;
    conflict_reason?: string | null; ambiguous?: boolean; winner_scan_id?: string | null;
    ticket: FeedTicketState | null;
  };

export interface FeedPage { event_id: string; events: FeedEvent[]; next_cursor: string; has_more: boolean }

/** The ticket-state patches a feed page implies: other devices' scans arrive with their ticket's state now. */
export function feedPatches(events: readonly FeedEvent[]): TicketPatch[] {
  const out = new Map<string, TicketPatch>();
  for (const e of events) {
    const t = e.kind === 'ticket' ? e : e.ticket;
    if (!t) continue;
    // Later items in a page are later in commit order: the last one wins.
    out.set(t.ticket_id, {
      ticket_id: t.ticket_id, serial: t.serial, status: t.status, status_changed_at: t.status_changed_at,
      current_scans: t.current_scans, inside: t.inside, first_scan: t.first_scan, last_scan: t.last_scan,
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
