import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { Availability, DatabaseError, databaseError, type Database, type QueryOptions, type Sql } from './database.ts';

export interface PostgresOptions {
  connectionString: string;
  maxConnections?: number;
}

const ignore = (): void => undefined;

export function openPostgres(options: PostgresOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 20,
    // Scanning is latency-sensitive: fail fast instead of queueing forever behind a dead server.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client that dies (server restart) must not crash the process.
  pool.on('error', ignore);
  const availability = new Availability();

  /**
   * A connection, or a DatabaseError that says the database is unavailable:
   * whatever fails while connecting (refused, timed out, not accepting
   * connections) is an outage, not a fault of the statement. While checked
   * out, a connection that dies must not crash the process with an unhandled
   * 'error' event (the pool listens only to idle ones): the statement in
   * flight, or the next one, fails instead.
   */
  const checkout = async (): Promise<pg.PoolClient> => {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw availability.failed(databaseError(err, true));
    }
    client.on('error', ignore);
    return client;
  };
  const checkin = (client: pg.PoolClient, err?: unknown): void => {
    client.removeListener('error', ignore);
    // As pool.query does: a connection that failed a statement is closed, not reused.
    client.release(err === undefined ? undefined : err instanceof Error ? err : new Error('statement failed'));
  };

  const run = async <R>(
    client: pg.PoolClient,
    text: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<R[]> => {
    try {
      const result = await client.query({ text, values: params as unknown[] | undefined, name: options?.name });
      availability.answered();
      return result.rows as R[];
    } catch (err) {
      throw availability.failed(databaseError(err));
    }
  };

  const copy = async (
    client: pg.PoolClient,
    table: string,
    columns: readonly string[],
    rows: string | Uint8Array,
  ): Promise<void> => {
    try {
      await pipeline(Readable.from([rows]), client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`)));
      availability.answered();
    } catch (err) {
      throw availability.failed(databaseError(err));
    }
  };

  /** One statement on a connection of its own (pool.query, with errors made safe to log). */
  const once = async <T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await checkout();
    try {
      const result = await fn(client);
      checkin(client);
      return result;
    } catch (err) {
      checkin(client, err);
      throw err;
    }
  };

  return {
    kind: 'postgres',
    availability,
    query: (text, params, opts) => once((client) => run(client, text, params, opts)),
    exec: (text) =>
      once(async (client) => {
        await run(client, text);
      }),
    copyRows: (table, columns, rows) => once((client) => copy(client, table, columns, rows)),
    async transaction(fn) {
      const client = await checkout();
      let failure: unknown;
      try {
        await run(client, 'BEGIN');
        const tx: Sql = {
          query: (text, params, opts) => run(client, text, params, opts),
          exec: async (text) => {
            await run(client, text);
          },
          copyRows: (table, columns, rows) => copy(client, table, columns, rows),
        };
        const result = await fn(tx);
        await run(client, 'COMMIT');
        return result;
      } catch (err) {
        failure = err;
        await client.query('ROLLBACK').catch(ignore);
        throw err;
      } finally {
        // Rolled back, the connection is reused; one that was lost is closed.
        checkin(client, failure instanceof DatabaseError && failure.unavailable ? failure : undefined);
      }
    },
    close: () => pool.end(),
  };
}
