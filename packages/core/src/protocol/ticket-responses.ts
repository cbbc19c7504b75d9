/** What the ticket endpoints answer: issued tickets, views, search and export pages, a ticket's scan history. */
import { Type, type Static } from 'typebox';
import { DirectionSchema, Nullable, StringEnum, Timestamp } from './common.ts';
import { ScanResultSchema } from './scan.ts';
import { ManifestStatusChange, TicketStatusSchema } from './manifest.ts';
import { TicketImportView } from './ticket-imports.ts';
import { Uuid } from './values.ts';

/** A ticket as issued: its code, shown to whoever issues it. */
export const IssuedTicket = Type.Object({ id: Uuid, number: Type.String(), code: Type.String() });
export type IssuedTicket = Static<typeof IssuedTicket>;

export const IssuedTickets = Type.Object({ tickets: Type.Array(IssuedTicket) });
export type IssuedTickets = Static<typeof IssuedTickets>;

export const TicketView = Type.Object({
  id: Uuid,
  event_id: Uuid,
  number: Type.String(),
  ticket_type_id: Uuid,
  tier: Type.String(),
  holder_name: Nullable(Type.String()),
  status: TicketStatusSchema,
  status_reason: Nullable(Type.String()),
  status_changed_at: Nullable(Timestamp),
  scans_used: Type.Integer(),
  max_scans: Type.Integer(),
  inside: Type.Boolean(),
  first_scanned_at: Nullable(Timestamp),
  first_scanned_by: Nullable(Type.String()),
  last_scan: Nullable(
    Type.Object({ at: Timestamp, direction: DirectionSchema, device_id: Type.String(), gate_id: Nullable(Uuid) }),
  ),
});
export type TicketView = Static<typeof TicketView>;

/** With q or cursor: a search page (no codes). */
export const TicketSearchPage = Type.Object({ tickets: Type.Array(TicketView), next_cursor: Nullable(Type.String()) });
export type TicketSearchPage = Static<typeof TicketSearchPage>;
/** Otherwise: an export page, with codes (after = the last serial seen). */
export const ExportedTicket = Type.Object({ ...TicketView.properties, code: Type.String(), serial: Type.Integer() });
export type ExportedTicket = Static<typeof ExportedTicket>;
export const TicketPage = Type.Object({ tickets: Type.Array(ExportedTicket), next_after: Nullable(Type.Integer()) });
export type TicketPage = Static<typeof TicketPage>;
/** Either page as one schema (one object for the serializer, not a union it would test branch by branch). */
export const TicketListResponse = Type.Object({
  tickets: Type.Array(
    Type.Object({
      ...TicketView.properties,
      code: Type.Optional(Type.String()),
      serial: Type.Optional(Type.Integer()),
    }),
  ),
  next_cursor: Type.Optional(Nullable(Type.String())),
  next_after: Type.Optional(Nullable(Type.Integer())),
});

export const TicketDetail = Type.Object({
  ...TicketView.properties,
  status_history: Type.Array(ManifestStatusChange, {
    description: 'Every status change, oldest first (empty: never changed)',
  }),
  scans: Type.Array(
    Type.Object({
      id: Uuid,
      result: ScanResultSchema,
      reason: Type.String({ description: 'A ScanReason (seed 000 devices may have sent their own words)' }),
      direction: DirectionSchema,
      device_id: Type.String(),
      device_name: Nullable(Type.String()),
      gate_id: Nullable(Uuid),
      gate_name: Nullable(Type.String()),
      session_id: Nullable(Uuid),
      staff_id: Type.Union([Uuid, Type.Null()], {
        description: 'The staff member logged in on the device when it scanned (online and offline); null: none',
      }),
      staff_name: Type.Union([Type.String(), Type.Null()], {
        description: "That staff member's display name now; null when none or since deleted",
      }),
      source: StringEnum(['online', 'offline']),
      scanned_at: Timestamp,
      received_at: Timestamp,
    }),
  ),
});
export type TicketDetail = Static<typeof TicketDetail>;

export const StagedImport = Type.Object({
  ...TicketImportView.properties,
  tickets: Type.Optional(Type.Array(IssuedTicket)),
});
export type StagedImport = Static<typeof StagedImport>;
export const CommittedImport = Type.Object({ import: TicketImportView, imported: Type.Integer() });
export type CommittedImport = Static<typeof CommittedImport>;
