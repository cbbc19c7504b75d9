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
  /** Where people reach this server (ENTRADA_PUBLIC_URL): printed URLs and pair URLs use it; otherwise derived. */
  publicUrl: string | undefined;
  /** The built scanner app served at `/`; defaults to packages/web/dist. */
  webDir: string | undefined;
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
    publicUrl: parsePublicUrl(nonEmpty(env.ENTRADA_PUBLIC_URL)),
    webDir: env.ENTRADA_WEB_DIR ? path.resolve(env.ENTRADA_WEB_DIR) : undefined,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.trim() !== '' ? value.trim() : undefined;
}

/** An http(s) URL without a trailing slash, e.g. https://tickets.example.com or https://example.com/entrada. */
function parsePublicUrl(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    url = new URL('invalid:');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
    throw new ConfigError(`ENTRADA_PUBLIC_URL must be an http(s) URL such as https://tickets.example.com, got "${text}"`);
  }
  return url.toString().replace(/\/+$/, '');
}

function parseInteger(text: string, name: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${text}"`);
  return n;
}
