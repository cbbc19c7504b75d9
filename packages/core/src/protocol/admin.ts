import { Type, type Static } from 'typebox';
import { DirectionSchema } from './common.ts';
import { Count, Instant, Text, Uuid } from './values.ts';
import { AlertSettings } from './fleet.ts';

/**
 * Why `manifest_ticket_codes` is off by default, said wherever it is turned on (API docs, CLI, console): the manifest
 * then carries every ticket's code, so a lost or stolen scanner hands out admissible codes for the whole event.
 */
export const MANIFEST_TICKET_CODES_RISK =
  "Ship each ticket's code (`ticket_code`) in the offline manifest, for scanner clients written to seed 000 that " +
  'match codes offline. Off by default. Risk: every device holding the manifest then holds every admissible code of the event — ' +
  'a lost or stolen scanner hands them out (copies of tickets that would be admitted). Turn it on only for such clients, and revoke a lost device at once.';

const Name = Text({ minLength: 1, maxLength: 200 });

export const EventSettings = Type.Object(
  {
    duplicate_window_s: Type.Optional(Count({ maximum: 86_400 })),
    default_allow_reentry: Type.Optional(Type.Boolean()),
    offline_holder_names: Type.Optional(Type.Boolean({ description: 'Ship holder names to offline devices' })),
    manifest_ticket_codes: Type.Optional(Type.Boolean({ description: MANIFEST_TICKET_CODES_RISK })),
    alerts: Type.Optional(AlertSettings),
  },
  { additionalProperties: false },
);
export type EventSettings = Static<typeof EventSettings>;

export const CreateEventBody = Type.Object(
  {
    name: Name,
    starts_at: Instant,
    ends_at: Instant,
    timezone: Type.Optional(Text({ minLength: 1, maxLength: 64 })),
    settings: Type.Optional(EventSettings),
  },
  { additionalProperties: false },
);
export type CreateEventBody = Static<typeof CreateEventBody>;

/** How a zone's capacity counts (issue 14): off (shown only), warn (admit and flag), enforce (refuse zone_full online). */
export const CapacityModeSchema = Type.Union([Type.Literal('off'), Type.Literal('warn'), Type.Literal('enforce')], {
  description:
    'off: shown only; warn: admitted, entries over capacity flagged over_capacity; enforce: online entries into a full zone refused zone_full (offline admissions are flagged, never refused)',
});

export const CreateZoneBody = Type.Object(
  {
    name: Name,
    capacity: Type.Optional(Type.Union([Count(), Type.Null()])),
    capacity_mode: Type.Optional(CapacityModeSchema),
  },
  { additionalProperties: false },
);
export type CreateZoneBody = Static<typeof CreateZoneBody>;

export const CreateGateBody = Type.Object(
  {
    name: Name,
    zone_ids: Type.Array(Uuid, { maxItems: 100, uniqueItems: true }),
  },
  { additionalProperties: false },
);
export type CreateGateBody = Static<typeof CreateGateBody>;

export const CreateTicketTypeBody = Type.Object(
  {
    name: Name,
    zone_ids: Type.Array(Uuid, { maxItems: 100, uniqueItems: true }),
    max_scans: Type.Optional(Count({ minimum: 1, maximum: 10_000 })),
    allow_reentry: Type.Optional(Type.Boolean()),
    valid_from: Type.Optional(Type.Union([Instant, Type.Null()])),
    valid_until: Type.Optional(Type.Union([Instant, Type.Null()])),
  },
  { additionalProperties: false },
);
export type CreateTicketTypeBody = Static<typeof CreateTicketTypeBody>;

export const MAX_TICKETS_PER_CALL = 10_000;

export const NewTicket = Type.Object(
  {
    ticket_type_id: Uuid,
    holder_name: Type.Optional(Type.Union([Text({ maxLength: 200 }), Type.Null()])),
    number: Type.Optional(Text({ minLength: 1, maxLength: 64 })),
    code: Type.Optional(
      Text({ minLength: 1, maxLength: 256, description: 'Imported code; omit to have Entrada issue a signed code' }),
    ),
  },
  { additionalProperties: false },
);
export type NewTicket = Static<typeof NewTicket>;

export const CreateTicketsBody = Type.Object(
  {
    tickets: Type.Array(NewTicket, { minItems: 1, maxItems: MAX_TICKETS_PER_CALL }),
  },
  { additionalProperties: false },
);
export type CreateTicketsBody = Static<typeof CreateTicketsBody>;

export const CancelTicketBody = Type.Object(
  {
    reason: Type.Optional(Text({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

/** Events a device may use (manifests, feed, sync, sessions, scans, staff logins). */
const DeviceEventIds = Type.Array(Uuid, {
  minItems: 1,
  maxItems: 100,
  uniqueItems: true,
  description: 'The events this device may use; without event_ids at registration, every event of the organisation',
});

export const CreateDeviceBody = Type.Object(
  {
    name: Name,
    device_id: Type.Optional(Text({ minLength: 3, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$' })),
    device_type: Type.Optional(Type.Union([Type.Literal('scanner'), Type.Literal('mobile')])),
    public_key: Type.Optional(
      Text({ minLength: 43, maxLength: 88, description: 'Ed25519 public key, base64url or hex' }),
    ),
    event_ids: Type.Optional(DeviceEventIds),
  },
  { additionalProperties: false },
);
export type CreateDeviceBody = Static<typeof CreateDeviceBody>;

/** `POST /devices/:deviceId/events`: events added to what a device may use. */
export const DeviceEventsBody = Type.Object({ event_ids: DeviceEventIds }, { additionalProperties: false });
export type DeviceEventsBody = Static<typeof DeviceEventsBody>;

export const RevokeDeviceBody = Type.Object(
  {
    reason: Text({ minLength: 1, maxLength: 500 }),
    effective_at: Type.Optional(Instant),
  },
  { additionalProperties: false },
);

export const CreateOrganisationBody = Type.Object({ name: Name }, { additionalProperties: false });

export const StartSessionBody = Type.Object(
  {
    event_id: Uuid,
    gate_id: Uuid,
    direction: Type.Optional(DirectionSchema),
  },
  { additionalProperties: false },
);
export type StartSessionBody = Static<typeof StartSessionBody>;
