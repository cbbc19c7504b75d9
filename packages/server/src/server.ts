import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildApp } from './app.ts';
import type { Config } from './config.ts';
import { DatabaseError, databaseError, type Database, type Sql } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { openPglite } from './db/pglite.ts';
import { makePrivateDir, makeTreePrivate } from './db/private-files.ts';
import { openPostgres } from './db/postgres.ts';
import { resolveServerSecret } from './crypto/server-secret.ts';
import { AccountService } from './services/account-service.ts';
import { AdminTokenService } from './services/admin-token-service.ts';
import { Authenticator } from './services/auth.ts';
import { bootstrap, type BootstrapInfo } from './services/bootstrap.ts';
import { createBus } from './services/bus.ts';
import type { Services } from './services/container.ts';
import { DeviceDirectory } from './services/device-directory.ts';
import { DeviceService } from './services/device-service.ts';
import { EventContexts } from './services/event-context.ts';
import { EventService } from './services/event-service.ts';
import { SetupService } from './services/setup-service.ts';
import { AuditService } from './services/audit.ts';
import { ScanLogService } from './services/scan-log-service.ts';
import { PairingService } from './services/pairing-service.ts';
import { StaffService } from './services/staff-service.ts';
import { ScanService } from './services/scan-service.ts';
import { TicketCache } from './services/ticket-cache.ts';
import { TicketService } from './services/ticket-service.ts';
import { TicketImportService } from './services/ticket-imports.ts';
import { TableStats } from './services/table-stats.ts';
import { ConflictService } from './services/sync/conflict-service.ts';
import { Cursors } from './services/sync/cursor.ts';
import { FeedService } from './services/sync/feed-service.ts';
import { LegacyReconcileService } from './services/sync/legacy-reconcile.ts';
import { ManifestService, type ManifestOptions } from './services/sync/manifest-service.ts';
import { recordUploadFailure, syncStatus } from './services/sync/status.ts';
import { recordSyncFailure } from './store/device-logs.ts';
import { deviceHealth, offlineHealth } from './services/sync/offline-health.ts';
import { computeOccupancy } from './services/occupancy-service.ts';
import { LiveService, type LiveOptions } from './services/live-service.ts';
import { pingDatabase } from './store/maintenance.ts';
import { SyncService } from './services/sync/sync-service.ts';
import { ImportService } from './services/sync/import-service.ts';
import { FleetService } from './services/fleet-service.ts';
import { AlertService, type AlertServiceOptions } from './services/alert-service.ts';
import nodemailer from 'nodemailer';
import type { Notifier, OrganiserNotification } from './services/notifications.ts';
import { NotificationWorker, type MailSender, type NotificationWorkerOptions } from './services/notification-worker.ts';
import { OutboxNotifier, WebhookService } from './services/webhook-service.ts';

export const VERSION = '0.1.0';

export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir'>): Promise<Database> {
  if (config.databaseUrl) return openPostgres({ connectionString: config.databaseUrl });
  // Only the server's user may read the data folder (0700) and the database files (0600).
  const dir = path.join(config.dataDir, 'pglite');
  await makePrivateDir(config.dataDir);
  await makePrivateDir(dir);
  const db = await openPglite(dir);
  await makeTreePrivate(dir);
  return {
    ...db,
    async close() {
      await db.close();
      // Files made while it ran were private by their folder; now by their own mode too.
      await makeTreePrivate(dir);
    },
  };
}

/** Properties by which an error that escaped the database layer still shows it is a driver's (PGlite: query, params; PostgreSQL: detail). */
const DRIVER_FIELDS = ['severity', 'query', 'params', 'detail', 'where', 'internalQuery'];
const MAX_MESSAGE = 500;

/**
 * The `err` of every log line, built field by field: type, a bounded message,
 * the stack's frames, and the codes that say what failed (for a database
 * error: SQLSTATE, constraint, table, column). Nothing else an error carries
 * is logged — a driver's error holds the statement, its parameters and, in
 * `detail` and its message, the values (`Key (code_digest)=(…)`). Named
 * `sqlstate`/`error_code`, not `code`: the `*.code` redaction is for ticket codes.
 */
export function errorLogFields(value: unknown): unknown {
  if (!(value instanceof Error)) {
    if (typeof value === 'string') return value.slice(0, MAX_MESSAGE);
    return value === null || value === undefined ? value : { type: typeof value };
  }
  const err = !(value instanceof DatabaseError) && DRIVER_FIELDS.some((f) => f in value) ? databaseError(value) : value;
  const message = err.message.slice(0, MAX_MESSAGE);
  const frames = (err.stack ?? '')
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .slice(0, 20);
  const fields: Record<string, unknown> = {
    type: err.name,
    message,
    stack: [`${err.name}: ${message}`, ...frames].join('\n'),
  };
  if (err instanceof DatabaseError) {
    Object.assign(fields, {
      sqlstate: err.code,
      constraint: err.constraint,
      table: err.table,
      column: err.column,
      unavailable: err.unavailable,
    });
  } else {
    const { code, statusCode } = err as { code?: unknown; statusCode?: unknown };
    if (typeof code === 'string') fields.error_code = code.slice(0, 64);
    if (typeof statusCode === 'number') fields.status = statusCode;
  }
  return fields;
}

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      // Tokens and personal data never reach the logs.
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["x-csrf-token"]',
          'res.headers["set-cookie"]',
          '*.token',
          '*.holder_name',
          '*.code',
          '*.password',
          '*.current_password',
          '*.new_password',
          '*.csrf_token',
        ],
        censor: '[redacted]',
      },
      // Fastify's request fields, but a pair URL's code (`/?pair=XXXX-XXXX`, opened by a scanner) is a credential.
      serializers: {
        err: errorLogFields,
        req: (req: {
          method?: string;
          url?: string;
          host?: string;
          ip?: string;
          socket?: { remotePort?: number };
        }) => ({
          method: req.method,
          url: req.url?.replace(/([?&]pair=)[^&#]*/gi, '$1[redacted]'),
          host: req.host,
          remoteAddress: req.ip,
          remotePort: req.socket?.remotePort,
        }),
      },
    },
    destination ?? process.stdout,
  );
}

/**
 * One log line when the database stops answering and one when it answers
 * again, with the outage's length. Requests meanwhile answer 503
 * `DATABASE_UNAVAILABLE` and log nothing (1,637 stacks in 8 s, before).
 */
export function logDatabaseOutages(db: Database, log: Logger): () => void {
  return db.availability.subscribe((change) => {
    const since = new Date(change.since).toISOString();
    if (!change.available)
      log.error(
        { db_error: change.code, outage_since: since },
        'database unavailable: answering 503 DATABASE_UNAVAILABLE until it answers again',
      );
    else
      log.warn(
        { outage_since: since, outage_ms: change.durationMs },
        `database available again after an outage of ${((change.durationMs ?? 0) / 1000).toFixed(1)} s`,
      );
  });
}

export interface ServiceOptions {
  secret: Buffer;
  redisUrl: string | undefined;
  ticketCacheSize: number;
  log: Logger;
  now?: (() => number) | undefined;
  /** ENTRADA_PUBLIC_URL: the origin of pair URLs (otherwise the request's). */
  publicUrl?: string | undefined;
  /** Test-only: turn off the admission guards (online compare-and-set, sync row locks) to demonstrate the races they prevent. */
  unsafeDisableAdmissionGuard?: boolean | undefined;
  /** Manifest cache and build limits (defaults in ManifestService). */
  manifest?: Partial<ManifestOptions> | undefined;
  /** The live streams' limit (ENTRADA_LIVE_MAX) and, in tests, their buffers and timings. */
  live?: Partial<Omit<LiveOptions, 'log' | 'now'>> | undefined;
  /** Webhooks and email (issue 13); the outbox (OutboxNotifier) when not given. */
  notifier?: Notifier | undefined;
  /** SMTP_URL and SMTP_FROM: mail is queued and sent only when smtpUrl is set. */
  smtpUrl?: string | undefined;
  /** ENTRADA_WEBHOOK_ALLOW_PRIVATE: webhooks may go to private addresses. */
  webhookAllowPrivate?: boolean;
  smtpFrom?: string | undefined;
  /** The outbox worker's timings (tests shorten them or inject the randomness). */
  notifications?: Partial<NotificationWorkerOptions> | undefined;
  /** Test-only options of the alert evaluator. */
  alerts?: AlertServiceOptions | undefined;
}

export function createServices(db: Database, opts: ServiceOptions): Services {
  const now = opts.now ?? Date.now;
  const bus = createBus({ redisUrl: opts.redisUrl, log: opts.log });
  const contexts = new EventContexts(db, opts.secret, now);
  bus.subscribe((m) => {
    if (m.type === 'event_changed') contexts.invalidate(m.eventId);
    if (m.type === 'organisation_events_changed') contexts.invalidateOrganisation(m.organisationId);
  });
  const ticketCache = new TicketCache(db, opts.ticketCacheSize, bus, now);
  const stats = new TableStats(db, opts.log);
  const events = new EventService(db, contexts, bus, opts.secret);
  const tickets = new TicketService(db, events, contexts, ticketCache, bus, opts.secret, now, stats);
  const directory = new DeviceDirectory(db);
  const cursors = new Cursors(opts.secret);
  // Producers queue notifications inside their own transaction, through whatever notifier `services` holds at that
  // moment (tests swap it): a failure to queue rolls their change back rather than losing the notification.
  const notify = async (tx: Sql, n: readonly OrganiserNotification[]): Promise<void> => {
    if (n.length > 0) await services.notifier.notify(tx, n);
  };
  const conflicts = new ConflictService(db, contexts, bus, now, notify);
  const devices = new DeviceService(
    db,
    contexts,
    ticketCache,
    bus,
    now,
    (tx, pk, at) => conflicts.quarantineIn(tx, pk, at),
    notify,
  );
  const pairing = new PairingService(db, events, contexts, devices, now, opts.publicUrl);
  const staff = new StaffService(db, events, contexts, now);
  const scans = new ScanService(
    db,
    contexts,
    ticketCache,
    directory,
    bus,
    now,
    !opts.unsafeDisableAdmissionGuard,
    stats,
  );
  const auth = new Authenticator(db, bus, now);
  const adminTokens = new AdminTokenService(db, bus, now);
  const accounts = new AccountService(db, bus, now);
  const syncService = new SyncService(
    db,
    contexts,
    directory,
    bus,
    ticketCache,
    now,
    !opts.unsafeDisableAdmissionGuard,
    stats,
    notify,
  );
  const sync = {
    uploads: syncService,
    imports: new ImportService(db, syncService),
    manifest: new ManifestService(db, cursors, now, {
      ...opts.manifest,
      codes: (ctx, rows) => tickets.codesOf(ctx, rows),
    }),
    feed: new FeedService(db, cursors),
    conflicts,
    legacy: new LegacyReconcileService(db, contexts, bus, now, notify),
    status: (ctx: Parameters<typeof syncStatus>[1], health: Parameters<typeof syncStatus>[2]) =>
      syncStatus(db, ctx, health, now()),
    deviceHealth: (ctx: Parameters<typeof deviceHealth>[1], deviceId?: string) => deviceHealth(db, ctx, deviceId),
    offlineHealth: (ctx: Parameters<typeof offlineHealth>[1]) => offlineHealth(db, ctx, now()),
    recordFailure: (eventId: string, devicePk: string) => recordSyncFailure(db, eventId, devicePk, now()),
    recordUploadFailure: (
      device: Parameters<typeof recordUploadFailure>[1],
      body: Parameters<typeof recordUploadFailure>[2],
      err: unknown,
    ) => recordUploadFailure(db, device, body, err, now()),
  };
  const setup = new SetupService(db, events, directory);
  const audit = new AuditService(db, events);
  const live = new LiveService(db, events, directory, bus, { maxStreams: 200, ...opts.live, log: opts.log, now });
  const fleet = new FleetService(db, contexts, bus, now);
  const mail = opts.smtpUrl ? smtpSender(opts.smtpUrl, opts.smtpFrom ?? 'entrada@localhost') : null;
  const webhooks = new WebhookService(db, opts.secret, now, mail !== null, opts.webhookAllowPrivate ?? false);
  const notificationWorker = new NotificationWorker(db, (sealed) => webhooks.signingKey(sealed), mail, now, opts.log, {
    consoleUrl: opts.publicUrl ?? null,
    allowPrivate: opts.webhookAllowPrivate ?? false,
    ...opts.notifications,
  });
  const services: Services = {
    bus,
    auth,
    adminTokens,
    accounts,
    contexts,
    tickets,
    ticketCache,
    events,
    setup,
    audit,
    devices,
    pairing,
    staff,
    scans,
    sync,
    stats,
    live,
    ticketImports: new TicketImportService(db, events, tickets, now, stats),
    fleet,
    notifier: opts.notifier ?? new OutboxNotifier(now, mail !== null),
    webhooks,
    notificationWorker,
    alerts: new AlertService(db, contexts, fleet, bus, notify, now, opts.log, opts.alerts),
    scanLog: new ScanLogService(db, events),
    occupancy: (ctx) => computeOccupancy(db, ctx, now()),
    ping: () => pingDatabase(db),
    now,
    version: VERSION,
  };
  return services;
}

/** Mail through nodemailer's SMTP transport (SMTP_URL carries host, port, TLS and credentials). */
function smtpSender(url: string, from: string): MailSender {
  const transport = nodemailer.createTransport(url);
  return {
    async send(m) {
      await transport.sendMail({ from, to: m.to, subject: m.subject, text: m.text });
    },
  };
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  services: Services;
  /** Which database the server runs on (the services hold the handle; routes never see it). */
  dbKind: Database['kind'];
  bootstrap: BootstrapInfo;
  secretSource: 'env' | 'file' | 'database';
  close(): Promise<void>;
}

export interface StartOptions {
  config: Config;
  logger?: Logger | false;
  /** An already open database (tests); closed by the caller. */
  db?: Database;
  now?: () => number;
  demoTickets?: number;
  unsafeDisableAdmissionGuard?: boolean;
  manifest?: Partial<ManifestOptions>;
  live?: ServiceOptions['live'];
  notifications?: ServiceOptions['notifications'];
}

/** Opens the database, migrates, bootstraps an empty installation and listens. */
export async function startServer(opts: StartOptions): Promise<RunningServer> {
  const { config } = opts;
  const log = opts.logger === false ? pino({ level: 'silent' }) : (opts.logger ?? createLogger(config.logLevel));
  const db = opts.db ?? (await openDatabase(config));
  await migrate(db);
  const { secret, source } = await resolveServerSecret({ secret: config.secret, db, dataDir: config.dataDir });
  if (source === 'database')
    log.warn(
      'ENTRADA_SECRET is not set: the server secret is stored in the database itself. Set ENTRADA_SECRET in production.',
    );
  const services = createServices(db, {
    secret,
    redisUrl: config.redisUrl,
    ticketCacheSize: config.ticketCacheSize,
    log,
    now: opts.now,
    publicUrl: config.publicUrl,
    unsafeDisableAdmissionGuard: opts.unsafeDisableAdmissionGuard,
    manifest: opts.manifest,
    live: { maxStreams: config.liveMax, ...opts.live },
    smtpUrl: config.smtpUrl,
    smtpFrom: config.smtpFrom,
    webhookAllowPrivate: config.webhookAllowPrivate,
    notifications: opts.notifications,
  });
  const stopLoggingOutages = logDatabaseOutages(db, log);
  const cleanup = async (): Promise<void> => {
    await services.alerts.stop();
    await services.notificationWorker.stop();
    stopLoggingOutages();
    services.auth.close();
    services.live.close();
    await services.bus.close();
    if (!opts.db) await db.close();
  };
  let boot: BootstrapInfo;
  let app: FastifyInstance;
  try {
    // Credentials are kept in the data folder only for a database that lives there (not an injected one).
    boot = await bootstrap(db, services, {
      adminToken: config.adminToken,
      demo: config.demo,
      dataDir: config.dataDir,
      demoTickets: opts.demoTickets,
      persist: !opts.db,
      owner: config.owner,
    });
    app = await buildApp(services, {
      logger: opts.logger === false ? false : log,
      trustProxy: config.trustProxy,
      ...(config.webDir ? { webDir: config.webDir } : {}),
      // The test suites' switch (their vitest configs set it): not a setting of a deployment.
      checkResponses: process.env.ENTRADA_CHECK_RESPONSES === 'on',
    });
    await app.listen({ port: config.port, host: config.host });
    services.alerts.start(config.alertIntervalMs);
    services.notificationWorker.start(config.notifyIntervalMs);
  } catch (err) {
    // A failed start (port in use, bad database) must not leave timers or connections holding the process open.
    await cleanup().catch(() => undefined);
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  return {
    app,
    url: config.publicUrl ?? `http://${host}:${port}`,
    services,
    dbKind: db.kind,
    bootstrap: boot,
    secretSource: source,
    async close() {
      await app.close();
      await services.auth.flushLastSeen();
      await cleanup();
    },
  };
}
