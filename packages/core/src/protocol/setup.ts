import { Type, type Static, type TSchema } from 'typebox';
import { CapacityModeSchema, EventSettings } from './admin.ts';
import { Count, Instant, Text as BoundedText, Uuid } from './values.ts';

/**
 * Changes to an event's set-up (issue #12, section 2): every field optional,
 * at least one given; strings bounded and without NUL (PostgreSQL text cannot
 * hold it, and a name is shown to people).
 */
const Text = (max: number, description?: string) =>
  BoundedText({ minLength: 1, maxLength: max, ...(description ? { description } : {}) });
const Name = Text(200);
const ZoneIds = Type.Array(Uuid, { maxItems: 100, uniqueItems: true });
const patch = <T extends Record<string, TSchema>>(props: T) =>
  Type.Object(props, { additionalProperties: false, minProperties: 1 });

export const UpdateEventBody = patch({
  name: Type.Optional(Name),
  starts_at: Type.Optional(Instant),
  ends_at: Type.Optional(Instant),
  timezone: Type.Optional(Text(64, 'IANA time zone, e.g. Europe/Amsterdam')),
  settings: Type.Optional(EventSettings),
});
export type UpdateEventBody = Static<typeof UpdateEventBody>;

export const UpdateZoneBody = patch({
  name: Type.Optional(Name),
  capacity: Type.Optional(Type.Union([Count({ maximum: 10_000_000 }), Type.Null()])),
  capacity_mode: Type.Optional(CapacityModeSchema),
});
export type UpdateZoneBody = Static<typeof UpdateZoneBody>;

export const UpdateGateBody = patch({
  name: Type.Optional(Name),
  zone_ids: Type.Optional(ZoneIds),
  closed: Type.Optional(
    Type.Boolean({ description: 'A closed gate stays listed; devices see it closed in the manifest' }),
  ),
});
export type UpdateGateBody = Static<typeof UpdateGateBody>;

export const UpdateTicketTypeBody = patch({
  name: Type.Optional(Name),
  zone_ids: Type.Optional(ZoneIds),
  max_scans: Type.Optional(Count({ minimum: 1, maximum: 10_000 })),
  allow_reentry: Type.Optional(Type.Boolean()),
  valid_from: Type.Optional(Type.Union([Instant, Type.Null()])),
  valid_until: Type.Optional(Type.Union([Instant, Type.Null()])),
});
export type UpdateTicketTypeBody = Static<typeof UpdateTicketTypeBody>;

export const UpdateDeviceBody = patch({
  name: Type.Optional(Name),
  default_gate_id: Type.Optional(
    Type.Union([Uuid, Type.Null()], { description: "A gate of one of the device's events; null for none" }),
  ),
});
export type UpdateDeviceBody = Static<typeof UpdateDeviceBody>;

export const UpdateStaffBody = patch({
  name: Type.Optional(Name),
  pin: Type.Optional(BoundedText({ maxLength: 12, pattern: '^[0-9]{4,12}$', description: '4 to 12 digits' })),
  active: Type.Optional(Type.Boolean()),
});
export type UpdateStaffBody = Static<typeof UpdateStaffBody>;

/** Unblock or reinstate a ticket: the reason is kept with the ticket and in the audit log. */
export const TicketReasonBody = Type.Object(
  {
    reason: Text(500),
  },
  { additionalProperties: false },
);
export type TicketReasonBody = Static<typeof TicketReasonBody>;

const Limit = BoundedText({ maxLength: 4, pattern: '^[0-9]{1,4}$', description: '1 to 500' });
const Cursor = BoundedText({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' });

export const AuditQuery = Type.Object({ cursor: Type.Optional(Cursor), limit: Type.Optional(Limit) });
export type AuditQuery = Static<typeof AuditQuery>;

export const AuditEntry = Type.Object({
  id: Uuid,
  event_id: Type.Union([Uuid, Type.Null()]),
  actor: Type.String({
    description: 'Who, as recorded: `user:<id>` (a console session) or `token:<id>` (an admin token)',
  }),
  actor_name: Type.Union([Type.String(), Type.Null()], {
    description: "The actor's name now: the user's name (or email), the admin token's name; null when gone",
  }),
  action: Type.String(),
  subject_kind: Type.String(),
  subject_id: Type.String(),
  before: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  after: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  at: Type.String(),
});
export type AuditEntry = Static<typeof AuditEntry>;

export const AuditPage = Type.Object({
  entries: Type.Array(AuditEntry),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});
export type AuditPage = Static<typeof AuditPage>;

/**
 * `GET /events/:id/tickets?q=`: a number prefix, part of a holder's name, or a
 * whole scanned code. Without q (and without cursor), the export of codes.
 */
export const TicketSearchQuery = Type.Object({
  q: Type.Optional(BoundedText({ maxLength: 256 })),
  cursor: Type.Optional(Cursor),
  limit: Type.Optional(BoundedText({ maxLength: 5, pattern: '^[0-9]{1,5}$' })),
  after: Type.Optional(BoundedText({ maxLength: 15, pattern: '^[0-9]{1,15}$' })),
});
export type TicketSearchQuery = Static<typeof TicketSearchQuery>;

/**
 * `GET /devices` in pages: with any of these, the answer is `{devices, next_cursor}`, a page in the order
 * the devices were registered; without, every device of the organisation as before (scripts, the CLI).
 */
export const DeviceListQuery = Type.Object({
  event_id: Type.Optional(Uuid),
  cursor: Type.Optional(Cursor),
  limit: Type.Optional(Limit),
});
export type DeviceListQuery = Static<typeof DeviceListQuery>;
