import { Type, type Static } from 'typebox';
import { DirectionSchema } from './common.ts';
import { Instant, Text, Uuid } from './values.ts';

/**
 * Live operations (issue 13 §4): the scan log and the conflicts inbox. Query
 * strings are not coerced: numbers and flags travel as bounded text, and the
 * server checks their range.
 */
const Cursor = Text({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' });
const Limit = Text({ maxLength: 4, pattern: '^[0-9]{1,4}$', description: '1 to 1000 (default 200)' });
const Flag = Type.Union([Type.Literal('true'), Type.Literal('false')]);
const Token = (description: string) => Text({ minLength: 1, maxLength: 64, pattern: '^[a-z_]+$', description });

/** The scan log's filters (the JSON pages and the CSV export take the same ones). */
export const ScanLogFilters = {
  from: Type.Optional(Instant),
  to: Type.Optional(Instant),
  gate_id: Type.Optional(Uuid),
  device_id: Type.Optional(Text({ minLength: 1, maxLength: 64 })),
  staff_id: Type.Optional(Uuid),
  direction: Type.Optional(DirectionSchema),
  verdict: Type.Optional(
    Type.Union(
      ['admitted', 'conflict', 'rejected', 'failed', 'quarantined'].map((v) => Type.Literal(v)),
      {
        description: 'The verdict of record (admitted, conflict, rejected, failed, quarantined)',
      },
    ),
  ),
  result: Type.Optional(Token('The result given at the gate (valid, duplicate, cancelled, …)')),
  reason: Type.Optional(Token('The reason given at the gate (admitted, already_used, wrong_gate, …)')),
  source: Type.Optional(Type.Union([Type.Literal('online'), Type.Literal('offline')])),
  conflicts: Type.Optional(
    Type.Literal('true', { description: 'Only scans that lost a conflict or were quarantined' }),
  ),
};
export const ScanLogQuery = Type.Object(
  { ...ScanLogFilters, cursor: Type.Optional(Cursor), limit: Type.Optional(Limit) },
  { additionalProperties: false },
);
export type ScanLogQuery = Static<typeof ScanLogQuery>;
export const ScanExportQuery = Type.Object(ScanLogFilters, { additionalProperties: false });
export type ScanExportQuery = Static<typeof ScanExportQuery>;

/** One row of the scan log: no codes; device time and upload time side by side. */
export const ScanLogRow = Type.Object({
  id: Uuid,
  scanned_at: Type.String({ description: 'Device time (ISO 8601, UTC)' }),
  received_at: Type.String({ description: 'Upload time: when the server recorded it' }),
  direction: DirectionSchema,
  result: Type.String(),
  reason: Type.String(),
  verdict: Type.String({ description: 'The verdict of record (a later earlier scan or a resolution may change it)' }),
  conflict_reason: Type.Union([Type.String(), Type.Null()]),
  source: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
  clock_uncertainty_ms: Type.Union([Type.Integer(), Type.Null()]),
  gate: Type.Union([Type.Object({ id: Uuid, name: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
  device: Type.Object({ id: Type.String(), name: Type.Union([Type.String(), Type.Null()]) }),
  staff: Type.Union([Type.Object({ id: Uuid, name: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
  ticket: Type.Union([
    Type.Object({
      id: Uuid,
      number: Type.Union([Type.String(), Type.Null()]),
      holder_name: Type.Union([Type.String(), Type.Null()]),
    }),
    Type.Null(),
  ]),
});
export type ScanLogRow = Static<typeof ScanLogRow>;
export const ScanLogPage = Type.Object({
  scans: Type.Array(ScanLogRow),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});
export type ScanLogPage = Static<typeof ScanLogPage>;

/** The conflicts inbox's filters. */
export const ConflictListQuery = Type.Object(
  {
    status: Type.Optional(
      Type.Union([Type.Literal('open'), Type.Literal('resolved'), Type.Literal('void'), Type.Literal('all')], {
        description: 'Default: all',
      }),
    ),
    ambiguous: Type.Optional(Flag),
    escalated: Type.Optional(Flag),
    reason: Type.Optional(Token('Why the scan lost (already_used, already_inside, cancelled, device_revoked, …)')),
    device_id: Type.Optional(
      Text({ minLength: 1, maxLength: 64, description: 'Either side of the conflict was scanned by this device' }),
    ),
    cursor: Type.Optional(Cursor),
    limit: Type.Optional(Text({ maxLength: 5, pattern: '^[0-9]{1,5}$', description: '1 to 5000 (default 1000)' })),
  },
  { additionalProperties: false },
);
export type ConflictListQuery = Static<typeof ConflictListQuery>;

/** Resolve several conflicts at once: all of them, or none (one bad id refuses the batch). */
export const BulkResolveBody = Type.Object(
  {
    conflict_ids: Type.Array(Uuid, { minItems: 1, maxItems: 500, uniqueItems: true }),
    resolution: Type.Union([Type.Literal('legitimate'), Type.Literal('fraud'), Type.Literal('dismissed')]),
    note: Type.Optional(Text({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);
export type BulkResolveBody = Static<typeof BulkResolveBody>;
