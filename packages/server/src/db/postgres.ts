import pg from 'pg';
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

  return {
    kind: 'postgres',
    query: (text, params, opts) => run(pool, text, params, opts),
    exec: async (text) => { await pool.query(text); },
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const tx: Sql = {
          query: (text, params, opts) => run(client, text, params, opts),
          exec: async (text) => { await client.query(text); },
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
