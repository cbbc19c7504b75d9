import type { OfflineHealthResponse, SyncStatusResponse } from '@entrada/core';
import type { DeviceRecord } from '../store/devices.ts';
import type { AccountService } from './account-service.ts';
import type { AuditService } from './audit.ts';
import type { SetupService } from './setup-service.ts';
import type { AdminTokenService } from './admin-token-service.ts';
import type { Authenticator } from './auth.ts';
import type { Bus } from './bus.ts';
import type { DeviceService } from './device-service.ts';
import type { EventContexts } from './event-context.ts';
import type { EventService } from './event-service.ts';
import type { PairingService } from './pairing-service.ts';
import type { StaffService } from './staff-service.ts';
import type { ScanService } from './scan-service.ts';
import type { TicketCache } from './ticket-cache.ts';
import type { TableStats } from './table-stats.ts';
import type { TicketService } from './ticket-service.ts';
import type { TicketImportService } from './ticket-imports.ts';
import type { ConflictService } from './sync/conflict-service.ts';
import type { FeedService } from './sync/feed-service.ts';
import type { LegacyReconcileService } from './sync/legacy-reconcile.ts';
import type { ManifestService } from './sync/manifest-service.ts';
import type { SyncService } from './sync/sync-service.ts';
import type { ImportService } from './sync/import-service.ts';
import type { EventContext } from './event-context.ts';
import type { DeviceHealth } from './sync/offline-health.ts';
import type { Occupancy } from './occupancy-service.ts';
import type { LiveService } from './live-service.ts';
import type { FleetService } from './fleet-service.ts';
import type { AlertService } from './alert-service.ts';
import type { Notifier } from './notifications.ts';
import type { NotificationWorker } from './notification-worker.ts';
import type { WebhookService } from './webhook-service.ts';
import type { ScanLogService } from './scan-log-service.ts';

export interface OfflineServices {
  /** Offline uploads (`s.sync.uploads.upload`: issue 11 §5, once `s.sync.sync.sync`). */
  uploads: SyncService;
  manifest: ManifestService;
  feed: FeedService;
  conflicts: ConflictService;
  legacy: LegacyReconcileService;
  imports: ImportService;
  status(ctx: EventContext, health: DeviceHealth): Promise<SyncStatusResponse>;
  /** Per-device sync state at an event (one device with `deviceId`). */
  deviceHealth(ctx: EventContext, deviceId?: string): Promise<DeviceHealth[]>;
  /** Offline metrics and alerts of an event. */
  offlineHealth(ctx: EventContext): Promise<OfflineHealthResponse>;
  /** Counts a sync that failed on the server in the device's log. */
  recordFailure(eventId: string, devicePk: string): Promise<void>;
  /** Records an upload that failed: a `failed` sync session with its error message; counted in the device's log when the server failed. */
  recordUploadFailure(
    device: DeviceRecord,
    body: { event_id: string; session_token: string },
    err: unknown,
  ): Promise<void>;
}

/** Everything routes may call. Routes decode, call one of these, encode. */
export interface Services {
  bus: Bus;
  auth: Authenticator;
  adminTokens: AdminTokenService;
  accounts: AccountService;
  contexts: EventContexts;
  tickets: TicketService;
  /** Imports of any size, staged in chunks and committed all or nothing. */
  ticketImports: TicketImportService;
  ticketCache: TicketCache;
  events: EventService;
  setup: SetupService;
  audit: AuditService;
  devices: DeviceService;
  pairing: PairingService;
  staff: StaffService;
  scans: ScanService;
  /** The scan log and its CSV export (organisers). */
  scanLog: ScanLogService;
  sync: OfflineServices;
  stats: TableStats;
  /** The organisers' live streams (issue 13). */
  live: LiveService;
  /** Scanner heartbeats and the fleet table (issue 13 §2). */
  fleet: FleetService;
  /** Alert rules, evaluation and acknowledgement (issue 13 §3). */
  alerts: AlertService;
  /** Webhooks and email (issue 13 §3); silent unless configured. Read at each use, so it can be swapped after creation. */
  notifier: Notifier;
  /** Webhook subscriptions and users' email subscriptions. */
  webhooks: WebhookService;
  /** Delivers the webhook and mail outboxes on a timer (ENTRADA_NOTIFY_INTERVAL_MS). */
  notificationWorker: NotificationWorker;
  /** People inside and admitted at an event. */
  occupancy(ctx: EventContext): Promise<Occupancy>;
  /** Resolves when the database answers (the health probe). */
  ping(): Promise<void>;
  now: () => number;
  version: string;
}
