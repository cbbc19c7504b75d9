/**
 * Ticket imports larger than one call: an import session stages chunks of rows
 * (validated as they arrive) and a commit moves them all into tickets in one
 * transaction, or none of them.
 */
import { Type, type Static } from 'typebox';
import { NewTicket } from './admin.ts';
import { Count } from './values.ts';

/** Rows per chunk: a chunk of 5,000 with holder names and long codes stays well under a megabyte. */
export const MAX_IMPORT_CHUNK_ROWS = 5_000;
/** Rows per import: an event's whole ticket list, with room to spare. */
export const MAX_IMPORT_ROWS = 500_000;

export const CreateTicketImportBody = Type.Object(
  {
    total_rows: Type.Optional(
      Count({
        minimum: 1,
        maximum: MAX_IMPORT_ROWS,
        description:
          'How many rows the file has; the commit is refused unless exactly that many were staged (a lost chunk cannot go unnoticed)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateTicketImportBody = Static<typeof CreateTicketImportBody>;

export const TicketImportRowsBody = Type.Object(
  {
    start_row: Count({
      minimum: 1,
      maximum: MAX_IMPORT_ROWS,
      description:
        'The row number of the first ticket of this chunk (1 for the first chunk); errors name rows by these numbers',
    }),
    tickets: Type.Array(NewTicket, { minItems: 1, maxItems: MAX_IMPORT_CHUNK_ROWS }),
    return_codes: Type.Optional(
      Type.Boolean({
        description:
          "Answer the staged rows' ids, numbers and codes (a script that lists the created tickets once the commit succeeds)",
      }),
    ),
  },
  { additionalProperties: false },
);
export type TicketImportRowsBody = Static<typeof TicketImportRowsBody>;

export const TicketImportView = Type.Object({
  id: Type.String(),
  event_id: Type.String(),
  state: Type.Union([Type.Literal('open'), Type.Literal('failed'), Type.Literal('committed')]),
  total_rows: Type.Union([Type.Integer(), Type.Null()]),
  staged_rows: Type.Integer(),
  /** Why a failed import failed (the row at fault). */
  failure: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
});
export type TicketImportView = Static<typeof TicketImportView>;
