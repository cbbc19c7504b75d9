/**
 * The domain vocabulary shared by the server, the offline client and the CLI.
 * Times are epoch milliseconds; ids are opaque strings.
 */

export type Direction = 'entry' | 'exit';
export const DIRECTIONS: readonly Direction[] = ['entry', 'exit'];

/** The closed set of scan results (seed 002, extended). Never reuse or rename a code. */
export type ScanResult =
  'valid' | 'duplicate' | 'invalid_token' | 'wrong_event' | 'wrong_gate' | 'cancelled' | 'not_valid_now';
export const SCAN_RESULTS: readonly ScanResult[] = [
  'valid',
  'duplicate',
  'invalid_token',
  'wrong_event',
  'wrong_gate',
  'cancelled',
  'not_valid_now',
];

/**
 * Why a result was given: finer than the result, so a gate can explain itself
 * ("double read" and "already used" are both `duplicate`).
 */
export type VerdictReason =
  | 'admitted' // valid entry that consumes one of max_scans
  | 're_entry' // valid entry after an exit, free with allow_reentry
  | 'exited' // valid exit of a ticket that was inside
  | 'exit_not_inside' // valid exit of a ticket that was not inside (harmless, occupancy unchanged)
  | 'forced' // admitted of record by an organiser's decision (a conflict resolved as legitimate)
  | 'double_read' // same device, same direction, within the duplicate window
  | 'already_used' // entries exhausted
  | 'already_inside' // re-entry ticket scanned for entry while inside
  | 'cancelled'
  | 'blocked'
  | 'not_yet_valid'
  | 'expired'
  | 'wrong_gate'
  | 'gate_closed' // entry at a gate closed at or before the scan (result wrong_gate: go to another gate)
  | 'zone_full' // entry into a zone whose capacity is enforced and reached (result not_valid_now: wait for an exit)
  | 'wrong_event'
  | 'unknown_code'
  | 'malformed_code'
  | 'bad_signature'
  | 'unknown_key';
/** Every VerdictReason, for schemas and exhaustive checks (a reason missing here fails core's typecheck below). */
export const VERDICT_REASONS = [
  'admitted',
  're_entry',
  'exited',
  'exit_not_inside',
  'forced',
  'double_read',
  'already_used',
  'already_inside',
  'cancelled',
  'blocked',
  'not_yet_valid',
  'expired',
  'wrong_gate',
  'gate_closed',
  'zone_full',
  'wrong_event',
  'unknown_code',
  'malformed_code',
  'bad_signature',
  'unknown_key',
] as const satisfies readonly VerdictReason[];
/** Both ways: a reason added to the type but not to the list makes this `false`, and the export below a type error. */
type EveryReasonListed = Exclude<VerdictReason, (typeof VERDICT_REASONS)[number]> extends never ? true : false;
export const VERDICT_REASONS_COMPLETE: EveryReasonListed = true;

export type TicketStatus = 'valid' | 'cancelled' | 'blocked';

export interface EventPolicy {
  id: string;
  /** IANA time zone used for validity windows and messages. */
  timezone: string;
  /** A repeat scan by the same device in the same direction within this window is a double read. */
  duplicateWindowMs: number;
}

export interface TicketTypePolicy {
  id: string;
  name: string;
  /** Zones this type grants. Empty means every zone. */
  zoneIds: readonly string[];
  maxScans: number;
  allowReentry: boolean;
  validFrom: number | null;
  validUntil: number | null;
}

export interface GatePolicy {
  id: string;
  /** Zones this gate admits to. Empty means every zone. */
  zoneIds: readonly string[];
  /** When the gate was closed: entries scanned at or after it are refused; earlier ones stand. */
  closedAt?: number | null | undefined;
}

/** One change of a ticket's status: `status` holds from `at` (inclusive) until the next change. */
export interface TicketStatusChange {
  at: number;
  status: TicketStatus;
}

export interface TicketFacts {
  id: string;
  eventId: string;
  status: TicketStatus;
  /** When the status last changed; a scan made before a cancellation stands. */
  statusChangedAt: number | null;
  /**
   * Every change of the status, in the order they were made (the last one is `status` since `statusChangedAt`);
   * a ticket is valid before its first change. Absent or empty: only the current status is known (see ticketStatusAt).
   */
  statusHistory?: readonly TicketStatusChange[] | undefined;
}

/** A successful scan of record, the only kind that changes a ticket's state. */
export interface AdmissionRecord {
  /** Which scan this is, when the caller tracks scans (replay of stored scans). */
  ref?: string | undefined;
  at: number;
  direction: Direction;
  deviceId: string;
  gateId: string | null;
}

/**
 * Everything the rules need to know about a ticket's past, folded from its
 * successful scans in scan-time order. The server stores exactly this on the
 * ticket row so the online path needs no history query.
 */
export interface TicketScanState {
  /** Entries that consumed one of max_scans (re-entries are free and not counted). */
  entries: number;
  first: AdmissionRecord | null;
  last: AdmissionRecord | null;
}

export const EMPTY_SCAN_STATE: TicketScanState = Object.freeze({ entries: 0, first: null, last: null });

export interface AdmissionContext {
  event: EventPolicy;
  ticket: TicketFacts;
  type: TicketTypePolicy;
  gate: GatePolicy | null;
  direction: Direction;
  now: number;
  deviceId: string;
  state: TicketScanState;
}

export interface Verdict {
  result: ScanResult;
  reason: VerdictReason;
  /** The scan becomes part of the ticket's admissions of record (changes its state). */
  admits: boolean;
  /** For `duplicate`: the admission that made this one redundant. */
  previous?: AdmissionRecord | undefined;
  /** For `zone_full`: the full zone (the first one, in the order the zones were given). */
  zone?: { id: string; capacity: number; inside: number } | undefined;
  /** For `not_valid_now`: the window that was missed. */
  validFrom?: number | null | undefined;
  validUntil?: number | null | undefined;
}
