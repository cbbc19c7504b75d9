import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Database, QueryOptions, Sql } from './database.ts';

export interface PostgresOptions {
  connectionString: string;
  maxConnections?: number;
}

export function openPostgres(options: PostgresOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 20,
    // Scanning is latency-sensitive: fail fast instead of queueing forever behind a dead server.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client that dies (server restart) must not crash the process.
  pool.on('error', () => undefined);

  const run = async <R>(client: pg.Pool | pg.PoolClient, text: string, params?: readonly unknown[], options?: QueryOptions): Promise<R[]> => {
    const result = await client.query({ text, values: params as unknown[] | undefined, name: options?.name });
    return result.rows as R[];
  };

  const copy = async (client: pg.PoolClient, table: string, columns: readonly string[], rows: string): Promise<void> => {
    await pipeline(Readable.from([rows]), client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`)));
  };

  return {
    kind: 'postgres',
    query: (text, params, opts) => run(pool, text, params, opts),
    exec: async (text) => { await pool.query(text); },
    async copyRows(table, columns, rows) {
      const client = await pool.connect();
      try {
        await copy(client, table, columns, rows);
      } finally {
        client.release();
      }
    },
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const tx: Sql = {
          query: (text, params, opts) => run(client, text, params, opts),
          exec: async (text) => { await client.query(text); },
          copyRows: (table, columns, rows) => copy(client, table, columns, rows),
        };
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
