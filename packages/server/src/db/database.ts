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
   * (store/copy-text.ts builds it); `table` and `columns` are trusted names
   * from our own code, never input.
   */
  copyRows(table: string, columns: readonly string[], rows: string): Promise<void>;
}

export interface Database extends Sql {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction; it commits when `fn` resolves and rolls back when it throws. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** PostgreSQL error codes the stores react to. */
export const PG_UNIQUE_VIOLATION = '23505';
export const PG_SERIALIZATION_FAILURE = '40001';
export const PG_DEADLOCK = '40P01';

export function pgErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** The constraint (or unique index) a violation names, when the driver reports it. */
export function pgConstraint(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'constraint' in err && typeof err.constraint === 'string' ? err.constraint : undefined;
}
