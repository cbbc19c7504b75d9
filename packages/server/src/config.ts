import { isIP } from 'node:net';
import path from 'node:path';

/**
 * Which proxies' X-Forwarded-For to believe (Fastify's trustProxy): none, any,
 * the last N hops, or these addresses and CIDR ranges (and proxy-addr's
 * names `loopback`, `linklocal`, `uniquelocal`).
 */
export type TrustProxy = boolean | number | string[];

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
  /**
   * Seed a demo event (with a 24-hour pairing code and the gate/1234 staff
   * login) into an empty database, and print its credentials on start. On by
   * default only for the embedded quick start: off with DATABASE_URL or
   * NODE_ENV=production unless ENTRADA_DEMO=on.
   */
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
  /** ENTRADA_TRUST_PROXY: behind a reverse proxy, so client addresses (and the limits counted by them) are the clients'. */
  trustProxy: TrustProxy;
  /**
   * ENTRADA_OWNER_EMAIL and ENTRADA_OWNER_PASSWORD: the first owner, made on
   * start when the first organisation has no user yet (both or neither).
   */
  owner: { email: string; password: string } | undefined;
  /** ENTRADA_LIVE_MAX: organisers' live streams per instance (default 200); past it, 503 BUSY with Retry-After. */
  liveMax: number;
  /** ENTRADA_ALERT_INTERVAL_MS: how often alert rules are evaluated (default 15 s; 0 turns the timer off). */
  alertIntervalMs: number;
  /** ENTRADA_NOTIFY_INTERVAL_MS: how often the webhook and mail outboxes are delivered (default 5 s; 0 turns the worker off). */
  notifyIntervalMs: number;
  /** SMTP_URL (e.g. smtps://user:pass@mail.example.com): mail is sent only when set. */
  smtpUrl: string | undefined;
  /** SMTP_FROM: the sender of Entrada's mail (default entrada@localhost). */
  smtpFrom: string;
  /**
   * ENTRADA_WEBHOOK_ALLOW_PRIVATE=1: webhooks may go to private, loopback and link-local addresses (receivers inside
   * the operator's own network). Off by default: an organiser's URL must not reach what only the server can.
   */
  webhookAllowPrivate: boolean;
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
    demo: parseDemo(env),
    secret: nonEmpty(env.ENTRADA_SECRET),
    logLevel: env.LOG_LEVEL ?? 'info',
    ticketCacheSize: parseInteger(env.ENTRADA_TICKET_CACHE ?? '200000', 'ENTRADA_TICKET_CACHE', 0, 50_000_000),
    publicUrl: parsePublicUrl(nonEmpty(env.ENTRADA_PUBLIC_URL)),
    webDir: env.ENTRADA_WEB_DIR ? path.resolve(env.ENTRADA_WEB_DIR) : undefined,
    trustProxy: parseTrustProxy(nonEmpty(env.ENTRADA_TRUST_PROXY)),
    owner: parseOwner(env),
    liveMax: parseInteger(env.ENTRADA_LIVE_MAX ?? '200', 'ENTRADA_LIVE_MAX', 0, 100_000),
    alertIntervalMs: parseInteger(env.ENTRADA_ALERT_INTERVAL_MS ?? '15000', 'ENTRADA_ALERT_INTERVAL_MS', 0, 86_400_000),
    notifyIntervalMs: parseInteger(
      env.ENTRADA_NOTIFY_INTERVAL_MS ?? '5000',
      'ENTRADA_NOTIFY_INTERVAL_MS',
      0,
      86_400_000,
    ),
    smtpUrl: parseSmtpUrl(nonEmpty(env.SMTP_URL)),
    smtpFrom: nonEmpty(env.SMTP_FROM) ?? 'entrada@localhost',
    webhookAllowPrivate: parseSwitch(env.ENTRADA_WEBHOOK_ALLOW_PRIVATE, 'ENTRADA_WEBHOOK_ALLOW_PRIVATE', false),
  };
}

function parseSmtpUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let protocol: string;
  try {
    protocol = new URL(value).protocol;
  } catch {
    // Not quoted: the URL may hold the SMTP password.
    throw new ConfigError('SMTP_URL must be a URL such as smtp://host:587 or smtps://user:password@host:465');
  }
  if (protocol !== 'smtp:' && protocol !== 'smtps:')
    throw new ConfigError('SMTP_URL must start with smtp:// or smtps://');
  return value;
}

function parseOwner(env: NodeJS.ProcessEnv): Config['owner'] {
  const email = nonEmpty(env.ENTRADA_OWNER_EMAIL)?.trim();
  const password = nonEmpty(env.ENTRADA_OWNER_PASSWORD);
  if (!email && !password) return undefined;
  if (!email || !password)
    throw new ConfigError(
      "ENTRADA_OWNER_EMAIL and ENTRADA_OWNER_PASSWORD go together: set both (the first owner's login) or neither",
    );
  if (!/^[^\s@]+@[^\s@]+$/.test(email))
    throw new ConfigError(`ENTRADA_OWNER_EMAIL must be an email address, got "${email}"`);
  return { email, password };
}

function parseSwitch(value: string | undefined, name: string, fallback: boolean): boolean {
  const text = nonEmpty(value)?.toLowerCase();
  if (text === undefined) return fallback;
  if (text === 'on' || text === 'true' || text === 'yes' || text === '1') return true;
  if (text === 'off' || text === 'false' || text === 'no' || text === '0') return false;
  throw new ConfigError(`${name} must be on or off, got "${value}"`);
}

function parseDemo(env: NodeJS.ProcessEnv): boolean {
  const text = nonEmpty(env.ENTRADA_DEMO)?.toLowerCase();
  if (text === undefined) return nonEmpty(env.DATABASE_URL) === undefined && env.NODE_ENV !== 'production';
  return parseSwitch(env.ENTRADA_DEMO, 'ENTRADA_DEMO', false);
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** off | true | a hop count | a comma-separated list of addresses and CIDR ranges. */
export function parseTrustProxy(text: string | undefined): TrustProxy {
  if (text === undefined) return false;
  const lower = text.toLowerCase();
  if (lower === 'off' || lower === 'false' || lower === 'no') return false;
  if (lower === 'true' || lower === 'on' || lower === 'yes') return true;
  if (/^\d+$/.test(lower)) {
    const hops = parseInteger(lower, 'ENTRADA_TRUST_PROXY (a hop count)', 0, 16);
    return hops === 0 ? false : hops;
  }
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const bad = entries.find((e) => !isProxyAddress(e));
  if (entries.length === 0 || bad !== undefined) {
    throw new ConfigError(
      'ENTRADA_TRUST_PROXY must be off, true, a hop count (1-16) or a comma-separated list of proxy addresses and CIDR ranges ' +
        `(e.g. 10.0.0.0/8,127.0.0.1), got "${text}"${bad === undefined ? '' : `: "${bad}" is not an IP address or CIDR range`}`,
    );
  }
  return entries;
}

function isProxyAddress(entry: string): boolean {
  if (PROXY_NAMES.has(entry.toLowerCase())) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
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
    throw new ConfigError(
      `ENTRADA_PUBLIC_URL must be an http(s) URL such as https://tickets.example.com, got "${text}"`,
    );
  }
  return url.toString().replace(/\/+$/, '');
}

function parseInteger(text: string, name: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${text}"`);
  return n;
}
