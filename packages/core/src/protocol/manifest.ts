/**
 * The manifest (GET /api/v1/offline/manifest/:eventId, full or a delta) and
 * the download feed (GET /api/v1/offline/events): what a device decides
 * offline with. The server builds them typed by these schemas and sends them
 * as prepared JSON (gzipped), so here the schemas document the wire and type
 * both ends; field names stay in the wire's snake_case so a stored manifest
 * is exactly what was downloaded.
 */
import { Type, type Static } from 'typebox';
import { DirectionSchema, Nullable, StringEnum, Timestamp } from './common.ts';
import { ScanResultSchema } from './scan.ts';
import { RecordStatusSchema } from './sync-responses.ts';
import { Uuid } from './values.ts';

export const ManifestScanRef = Type.Object({ at: Timestamp, device_id: Type.String(), gate_id: Nullable(Uuid) });
export type ManifestScanRef = Static<typeof ManifestScanRef>;
export const ManifestLastScan = Type.Object({ ...ManifestScanRef.properties, direction: DirectionSchema });

export const TicketStatusSchema = StringEnum(['valid', 'cancelled', 'blocked']);

/** One status change; it holds from its `at` (inclusive) until the next. */
export const ManifestStatusChange = Type.Object({ at: Timestamp, status: TicketStatusSchema });
export type ManifestStatusChange = Static<typeof ManifestStatusChange>;
const StatusHistory = Type.Array(ManifestStatusChange, {
  description:
    "Every status change, oldest first (only tickets whose status ever changed): a scan is judged on the status at its time (core's ticketStatusAt)",
});

/**
 * A ticket as a device holds it. The fields from the ticket's type (number, tier, type_id, zones, max_scans) are
 * always sent in a manifest; they are optional because a ticket first known from the feed has only its state.
 */
export const ManifestTicket = Type.Object({
  ticket_id: Uuid,
  serial: Type.Integer(),
  number: Type.Optional(Type.String()),
  tier: Type.Optional(Type.String()),
  type_id: Type.Optional(Uuid),
  zones: Type.Optional(Type.Array(Uuid)),
  max_scans: Type.Optional(Type.Integer()),
  current_scans: Type.Integer(),
  inside: Type.Boolean(),
  status: TicketStatusSchema,
  status_changed_at: Type.Optional(Nullable(Timestamp)),
  status_history: Type.Optional(StatusHistory),
  code_digest: Type.Optional(
    Type.String({ description: 'First 8 bytes of HMAC-SHA256(code_key, code), base64url; imported codes only' }),
  ),
  holder_name: Type.Optional(Nullable(Type.String())),
  ticket_code: Type.Optional(
    Type.String({ description: "Seed 000's ticketCode, only with the event setting `manifest_ticket_codes`" }),
  ),
  first_scan: Type.Optional(Nullable(ManifestScanRef)),
  last_scan: Type.Optional(Nullable(ManifestLastScan)),
});
export type ManifestTicket = Static<typeof ManifestTicket>;

const PublicKey = Type.Object({
  key_id: Type.Integer(),
  public_key: Type.String({ description: 'Ed25519 public key, base64url' }),
});

/** Everything of a manifest but its tickets. */
export const ManifestHeader = Type.Object({
  event_id: Uuid,
  event: Type.Object({
    id: Uuid,
    ref: Type.Integer(),
    name: Type.String(),
    timezone: Type.String(),
    starts_at: Nullable(Timestamp),
    ends_at: Nullable(Timestamp),
  }),
  generated_at: Timestamp,
  expires_at: Timestamp,
  cursor: Type.String({ description: 'The `since=` of the next delta' }),
  full: Type.Boolean({ description: "true: replaces the device's copy; false: changed tickets only" }),
  policies: Type.Object({
    duplicate_window_s: Type.Integer(),
    default_allow_reentry: Type.Boolean(),
    holder_names: Type.Boolean(),
    ticket_codes: Type.Optional(Type.Boolean()),
    timezone: Type.String(),
  }),
  gates: Type.Array(
    Type.Object({
      id: Uuid,
      name: Type.String(),
      zone_ids: Type.Array(Uuid),
      closed_at: Type.Optional(Nullable(Timestamp)),
    }),
    { description: '`closed_at`: a closed gate (entries from then on are refused `gate_closed`)' },
  ),
  zones: Type.Array(
    Type.Object({
      id: Uuid,
      name: Type.String(),
      capacity: Nullable(Type.Integer()),
      capacity_mode: Type.Optional(StringEnum(['off', 'warn', 'enforce'])),
    }),
    { description: '`capacity_mode`: how the server counts the capacity; offline devices never refuse for it' },
  ),
  ticket_types: Type.Array(
    Type.Object({
      id: Uuid,
      ref: Type.Integer(),
      name: Type.String(),
      zone_ids: Type.Array(Uuid),
      max_scans: Type.Integer(),
      allow_reentry: Type.Boolean(),
      valid_from: Nullable(Timestamp),
      valid_until: Nullable(Timestamp),
    }),
  ),
  keys: Type.Array(Type.Object({ ...PublicKey.properties, active: Type.Boolean() })),
  /**
   * The organisation's other events and their public keys: a signed code of one of them that verifies is
   * `wrong_event`, anything else naming another event is refused as forged. Absent from older servers.
   */
  other_events: Type.Optional(Type.Array(Type.Object({ ref: Type.Integer(), keys: Type.Array(PublicKey) }))),
  code_digest: Type.Object({ algorithm: Type.String(), bytes: Type.Integer(), key: Type.String() }),
});
export type ManifestHeader = Static<typeof ManifestHeader>;

export const ManifestDocument = Type.Object({
  ...ManifestHeader.properties,
  ticket_count: Type.Integer({
    description: 'Follows `tickets` in the document (tickets are written as they are read)',
  }),
  tickets: Type.Array(ManifestTicket),
  feed_cursor: Type.Optional(
    Type.String({ description: "Where this device's download feed starts: everything before it is in this manifest" }),
  ),
});
export type ManifestDocument = Static<typeof ManifestDocument>;

export const ManifestResponse = Type.Object(
  { success: Type.Literal(true), manifest: ManifestDocument },
  {
    description: 'The manifest, gzipped when the client accepts it',
  },
);
export type ManifestResponse = Static<typeof ManifestResponse>;

/** A ticket's state now, as the feed carries it. */
export const FeedTicketState = Type.Object({
  ticket_id: Uuid,
  serial: Type.Integer(),
  number: Type.String(),
  type_id: Uuid,
  status: TicketStatusSchema,
  status_changed_at: Nullable(Timestamp),
  current_scans: Type.Integer(),
  inside: Type.Boolean(),
  version: Type.Integer(),
  status_history: Type.Optional(StatusHistory),
  first_scan: Nullable(ManifestScanRef),
  last_scan: Nullable(ManifestLastScan),
});
export type FeedTicketState = Static<typeof FeedTicketState>;

export const FeedTicketEvent = Type.Object({
  kind: Type.Literal('ticket'),
  ...FeedTicketState.properties,
  code_digest: Type.Optional(Type.String({ description: 'Imported codes: usable offline at once' })),
});

export const FeedScanEvent = Type.Object({
  kind: Type.Literal('scan'),
  scan_id: Uuid,
  ticket_id: Nullable(Uuid),
  device_id: Type.String(),
  seq: Nullable(Type.Integer()),
  scanned_at: Nullable(Timestamp),
  direction: DirectionSchema,
  gate_id: Nullable(Uuid),
  result: ScanResultSchema,
  reason: Type.String({
    description: 'A VerdictReason, or a reason of the upload (seed 000 devices may send their own words)',
  }),
  verdict: RecordStatusSchema,
  conflict_reason: Nullable(Type.String()),
  winner_scan_id: Nullable(Uuid),
  ambiguous: Type.Boolean(),
  source: StringEnum(['online', 'offline']),
  revision: Type.Integer(),
  ticket: Nullable(FeedTicketState),
});
export type FeedScanEvent = Static<typeof FeedScanEvent>;

export const FeedEvent = Type.Union([FeedTicketEvent, FeedScanEvent]);
export type FeedEvent = Static<typeof FeedEvent>;

export const FeedPage = Type.Object({
  event_id: Uuid,
  events: Type.Array(FeedEvent),
  next_cursor: Type.String(),
  has_more: Type.Boolean(),
});
export type FeedPage = Static<typeof FeedPage>;
