/**
 * The one SQL interface every store uses. Two implementations speak the same
 * PostgreSQL dialect: embedded PGlite (the default) and a PostgreSQL server.
 */
export interface QueryOptions {
  /** Name of a server-side prepared statement, for hot statements (ignored by PGlite). */
  name?: string;
}

export interface Sql {
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[], options?: QueryOptions): Promise<R[]>;
  /** Runs several statements without parameters (migrations). */
  exec(text: string): Promise<void>;
  /**
   * Bulk-loads rows with COPY FROM: `rows` is PostgreSQL's COPY text format
   * (store/copy-text.ts builds it), as text or as its UTF-8 bytes; `table`
   * and `columns` are trusted names from our own code, never input.
   */
  copyRows(table: string, columns: readonly string[], rows: string | Uint8Array): Promise<void>;
}

export interface Database extends Sql {
  readonly kind: 'pglite' | 'postgres';
  /** Whether the database answers, as this process's statements find it (outages start and end here). */
  readonly availability: Availability;
  /** Runs `fn` in one transaction; it commits when `fn` resolves and rolls back when it throws. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Every failure of a statement, as the two implementations throw it: only
 * what may be logged. A driver's error carries the statement, its parameters
 * (PGlite: `query`, `params` — a 10,000-ticket batch's holder names, PIN
 * hashes, token digests, event code keys) and the server's `detail`, `where`
 * and message, which quote values (`Key (code_digest)=(\x…) already exists`,
 * `invalid input syntax for type integer: "…"`). None of it is copied here,
 * not even as `cause`: the SQLSTATE, the constraint, table and column names
 * (ours, from the schema) and whether the database was unreachable.
 */
export class DatabaseError extends Error {
  /** SQLSTATE (`23505`), or the socket's error code (`ECONNREFUSED`) when the server was never reached. */
  readonly code: string | undefined;
  readonly constraint: string | undefined;
  readonly table: string | undefined;
  readonly column: string | undefined;
  /** The database could not be reached or went away: a retry later can succeed; nothing is wrong with the statement. */
  readonly unavailable: boolean;

  constructor(fields: {
    code: string | undefined;
    constraint?: string | undefined;
    table?: string | undefined;
    column?: string | undefined;
    unavailable: boolean;
  }) {
    super(
      fields.unavailable
        ? `database unavailable (${fields.code ?? 'connection lost'})`
        : `database error ${fields.code ?? '(no SQLSTATE)'}`,
    );
    this.name = 'DatabaseError';
    this.code = fields.code;
    this.constraint = fields.constraint;
    this.table = fields.table;
    this.column = fields.column;
    this.unavailable = fields.unavailable;
  }
}

/** Socket errors of a server that is down, restarting or unreachable. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** SQLSTATEs of a server that is going away or not taking connections: admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections. */
const GOING_AWAY = new Set(['57P01', '57P02', '57P03', '53300']);
/** node-postgres and pg-pool say these without a code (a dropped socket, the pool's connection timeout, a closed pool or PGlite). */
const CONNECTION_LOST =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|PGlite is closed)/;

const stringField = (err: object, key: string): string | undefined => {
  const value = (err as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : undefined;
};

/**
 * The DatabaseError for anything a driver threw. `connecting`: it was thrown
 * while getting a connection, so whatever it says (an authentication
 * failure, a database not accepting connections), the database is unavailable.
 */
export function databaseError(err: unknown, connecting = false): DatabaseError {
  if (err instanceof DatabaseError) return err;
  if (typeof err !== 'object' || err === null) return new DatabaseError({ code: undefined, unavailable: connecting });
  const code = stringField(err, 'code');
  const unavailable =
    connecting ||
    (code !== undefined && (code.startsWith('08') || GOING_AWAY.has(code) || UNREACHABLE.has(code))) ||
    CONNECTION_LOST.test(stringField(err, 'message') ?? '');
  return new DatabaseError({
    code,
    constraint: stringField(err, 'constraint'),
    table: stringField(err, 'table'),
    column: stringField(err, 'column'),
    unavailable,
  });
}

export interface AvailabilityChange {
  available: boolean;
  /** When the outage started. */
  since: number;
  /** Its length, when it ended. */
  durationMs?: number;
  /** What started it (SQLSTATE or socket error code). */
  code?: string | undefined;
}

/**
 * Whether the database answers, as statements find it: an outage starts with
 * the first statement that finds it unreachable and ends with the next one
 * that gets an answer (an error from the server is an answer). Listeners hear
 * each start and end once, not once per failed request.
 */
export class Availability {
  private downSince: number | null = null;
  private readonly listeners = new Set<(change: AvailabilityChange) => void>();

  constructor(private readonly now: () => number = Date.now) {}

  get available(): boolean {
    return this.downSince === null;
  }

  /** Records what a statement found; returns `err` for throwing. */
  failed(err: DatabaseError): DatabaseError {
    if (!err.unavailable) this.answered();
    else if (this.downSince === null) {
      this.downSince = this.now();
      this.emit({ available: false, since: this.downSince, code: err.code });
    }
    return err;
  }

  answered(): void {
    if (this.downSince === null) return;
    const since = this.downSince;
    this.downSince = null;
    this.emit({ available: true, since, durationMs: this.now() - since });
  }

  subscribe(listener: (change: AvailabilityChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: AvailabilityChange): void {
    for (const listener of this.listeners) listener(change);
  }
}

/** PostgreSQL error codes the stores react to. */
export const PG_UNIQUE_VIOLATION = '23505';
export const PG_SERIALIZATION_FAILURE = '40001';
export const PG_DEADLOCK = '40P01';

export function pgErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

/** The constraint (or unique index) a violation names, when the driver reports it. */
export function pgConstraint(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'constraint' in err && typeof err.constraint === 'string'
    ? err.constraint
    : undefined;
}
