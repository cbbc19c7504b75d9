/**
 * What the organisers' setup endpoints answer: events with their zones,
 * gates, ticket types and keys; devices; occupancy. Fastify response schemas
 * on the server and the console's and CLI's types.
 */
import { Type, type Static } from 'typebox';
import { Nullable, StringEnum, Timestamp } from './common.ts';
import { Uuid } from './values.ts';

/** Free-form settings as stored (rules, alerts, manifest options): written whole. */
const Settings = Type.Record(Type.String(), Type.Unknown());

export const EventSummary = Type.Object({
  id: Uuid,
  name: Type.String(),
  starts_at: Timestamp,
  ends_at: Timestamp,
  timezone: Type.String(),
  settings: Settings,
  created_at: Timestamp,
});
export type EventSummary = Static<typeof EventSummary>;

export const EventList = Type.Object({ events: Type.Array(EventSummary) });
export type EventList = Static<typeof EventList>;

export const ZoneView = Type.Object({
  id: Uuid,
  name: Type.String(),
  capacity: Nullable(Type.Integer()),
  capacity_mode: StringEnum(['off', 'warn', 'enforce']),
});
export type ZoneView = Static<typeof ZoneView>;

/** A gate as created (POST): its zones. */
export const NewGateView = Type.Object({ id: Uuid, name: Type.String(), zone_ids: Type.Array(Uuid) });
export type NewGateView = Static<typeof NewGateView>;

export const GateView = Type.Object({
  ...NewGateView.properties,
  closed: Type.Boolean(),
  closed_at: Nullable(Timestamp),
});
export type GateView = Static<typeof GateView>;

export const TicketTypeView = Type.Object({
  id: Uuid,
  name: Type.String(),
  zone_ids: Type.Array(Uuid),
  max_scans: Type.Integer(),
  allow_reentry: Type.Boolean(),
  valid_from: Nullable(Timestamp),
  valid_until: Nullable(Timestamp),
});
export type TicketTypeView = Static<typeof TicketTypeView>;

export const EventDetail = Type.Object({
  ...EventSummary.properties,
  zones: Type.Array(ZoneView),
  gates: Type.Array(GateView),
  ticket_types: Type.Array(TicketTypeView),
  keys: Type.Array(
    Type.Object({
      key_id: Type.Integer(),
      public_key: Type.String({ description: 'Ed25519, base64url' }),
      active: Type.Boolean(),
    }),
  ),
});
export type EventDetail = Static<typeof EventDetail>;

/** PATCH /events/:eventId: the event's settable fields after the change. */
export const EventChanged = Type.Object({
  id: Uuid,
  name: Type.String(),
  starts_at: Timestamp,
  ends_at: Timestamp,
  timezone: Type.String(),
  settings: Settings,
});
export type EventChanged = Static<typeof EventChanged>;

export const StaffChanged = Type.Object({
  id: Uuid,
  username: Type.String(),
  name: Type.String(),
  active: Type.Boolean(),
});
export type StaffChanged = Static<typeof StaffChanged>;

export const DeviceChanged = Type.Object({
  device_id: Type.String(),
  name: Type.String(),
  default_event_id: Nullable(Uuid),
  default_gate_id: Nullable(Uuid),
});
export type DeviceChanged = Static<typeof DeviceChanged>;

export const DeviceStatusSchema = StringEnum(['active', 'suspended', 'revoked']);

/** A device as the organisers see it (never its token). */
export const DeviceView = Type.Object({
  device_id: Type.String(),
  name: Type.String(),
  device_type: Type.String(),
  status: DeviceStatusSchema,
  has_public_key: Type.Boolean(),
  last_seen_at: Nullable(Timestamp),
  status_changed_at: Nullable(Timestamp),
  status_reason: Nullable(Type.String()),
  created_at: Timestamp,
  event_ids: Nullable(
    Type.Array(Uuid, { description: 'The events this device may use; null: every event of the organisation' }),
  ),
  default_event_id: Nullable(Uuid),
  default_gate_id: Nullable(Uuid),
});
export type DeviceView = Static<typeof DeviceView>;

/** Without paging parameters: every device (no `next_cursor`); with them: a page. */
export const DeviceList = Type.Object({
  devices: Type.Array(DeviceView),
  next_cursor: Type.Optional(Nullable(Type.String())),
});
export type DeviceList = Static<typeof DeviceList>;

export const RegisteredDevice = Type.Object({
  ...DeviceView.properties,
  id: Uuid,
  token: Type.String({ description: 'The device token, shown once' }),
});
export type RegisteredDevice = Static<typeof RegisteredDevice>;

export const CreatedOrganisation = Type.Object({
  id: Uuid,
  name: Type.String(),
  admin_token: Type.String({ description: 'Shown once' }),
});
export type CreatedOrganisation = Static<typeof CreatedOrganisation>;

export const OccupancyResponse = Type.Object({
  event_id: Uuid,
  inside: Type.Integer(),
  admitted: Type.Integer(),
  zones: Type.Array(
    Type.Object({
      id: Uuid,
      name: Type.String(),
      capacity: Nullable(Type.Integer()),
      inside: Type.Integer(),
      admitted: Type.Integer(),
      available: Nullable(Type.Integer()),
    }),
  ),
  gates: Type.Array(Type.Object({ id: Uuid, name: Type.String(), inside: Type.Integer(), admitted: Type.Integer() })),
  generated_at: Timestamp,
});
export type OccupancyResponse = Static<typeof OccupancyResponse>;

/** The connectivity probe. While the database does not answer: 503, with the error body's fields besides these. */
export const HealthResponse = Type.Object({
  status: StringEnum(['ok', 'degraded']),
  db: StringEnum(['ok', 'down']),
  version: Type.String(),
  time: Timestamp,
});
export type HealthResponse = Static<typeof HealthResponse>;

/** An answer without a body (204). */
export const NoContent = Type.Null({ description: 'No content' });
