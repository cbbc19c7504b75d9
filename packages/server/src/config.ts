import path from 'node:path';

export interface Config {
  port: number;
  host: string;
  /** Folder of the embedded PGlite database (and its secret key file). */
  dataDir: string;
  /** PostgreSQL server instead of PGlite. */
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** Bootstrap admin token; generated and printed once when absent. */
  adminToken: string | undefined;
  /** Seed a demo event into an empty database. */
  demo: boolean;
  /** Server secret that seals event keys and imported codes. */
  secret: string | undefined;
  logLevel: string;
  /** Tickets kept in each instance's in-process cache. */
  ticketCacheSize: number;
  publicUrl: string | undefined;
}

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = parseInteger(env.PORT ?? '3000', 'PORT', 0, 65_535);
  return {
    port,
    host: env.HOST ?? '0.0.0.0',
    dataDir: path.resolve(env.DATA_DIR ?? './data'),
    databaseUrl: nonEmpty(env.DATABASE_URL),
    redisUrl: nonEmpty(env.REDIS_URL),
    adminToken: nonEmpty(env.ENTRADA_ADMIN_TOKEN),
    demo: (env.ENTRADA_DEMO ?? 'on').toLowerCase() !== 'off',
    secret: nonEmpty(env.ENTRADA_SECRET),
    logLevel: env.LOG_LEVEL ?? 'info',
    ticketCacheSize: parseInteger(env.ENTRADA_TICKET_CACHE ?? '200000', 'ENTRADA_TICKET_CACHE', 0, 50_000_000),
    publicUrl: nonEmpty(env.ENTRADA_PUBLIC_URL),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.trim() !== '' ? value.trim() : undefined;
}

function parseInteger(text: string, name: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${text}"`);
  return n;
}
