import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** Messages instances exchange. Caches are hints: correctness never depends on delivery. */
export type BusMessage =
  | { type: 'ticket_changed'; eventId: string; ticketId: string; version: number }
  /** Many tickets of one event at once (a sync upload): one message instead of one per ticket. */
  | { type: 'tickets_changed'; eventId: string; ticketIds: string[]; versions: number[] }
  | { type: 'event_changed'; eventId: string }
  /** An event of the organisation was created: the others' contexts hold its public keys (code classification). */
  | { type: 'organisation_events_changed'; organisationId: string }
  | { type: 'device_changed'; deviceId: string }
  /** An admin token was revoked: instances drop their cached admin tokens. */
  | { type: 'admin_tokens_changed' }
  /** A user's sessions ended or their role or state changed: instances drop their cached sessions. */
  | { type: 'user_sessions_changed'; userId: string }
  /** A scan session ended (or was replaced by the device's next one): instances drop their cached copy. */
  | { type: 'session_ended'; sessionId: string }
  | {
      type: 'occupancy';
      eventId: string;
      gateId: string | null;
      direction: 'entry' | 'exit';
      delta: number;
      at: number;
    }
  /**
   * Live operations (issue 13): scans recorded (one message per online scan, one per offline sync batch), so
   * organisers' dashboards on every instance see them. No codes and no holder names: the live stream adds
   * what a role may see from the database.
   */
  | { type: 'scans_recorded'; eventId: string; scans: LiveScan[] }
  /** Admissions of record changed other than by a scan (conflict resolved, cancellation, late earlier scan): recount. */
  | { type: 'occupancy_changed'; eventId: string }
  | { type: 'conflicts_changed'; eventId: string; conflictIds: string[]; state: 'opened' | 'resolved' }
  /** A device's health changed (heartbeat, sync, status): dashboards refresh that row. */
  | { type: 'device_health_changed'; eventId: string; deviceId: string }
  | { type: 'alert_changed'; eventId: string; alertId: string; state: 'raised' | 'cleared' | 'acknowledged' };

/** One scan as the live stream shows it (times in epoch ms; ids, not names). */
export interface LiveScan {
  scanId: string;
  /** When the scan happened (device time, corrected, for offline scans). */
  at: number;
  /** When the server recorded it. */
  receivedAt: number;
  gateId: string | null;
  deviceId: string | null;
  staffId: string | null;
  direction: 'entry' | 'exit';
  verdict: string;
  reason: string | null;
  offline: boolean;
  ticketId: string | null;
  /**
   * What the scan changed in the event's counts, when the recorder knows it exactly (an online scan decided on
   * the ticket's current version): the live stream adds it up instead of recounting. Absent (offline syncs,
   * whose replays can correct earlier admissions): the stream recounts.
   */
  counts?: ScanCountChange;
}

/** One scan's effect on the live counts (issue 13): admissions of record, people inside, refusals by reason. */
export interface ScanCountChange {
  /** The ticket's type (zones are derived from gate and type), null for a code that matched no ticket. */
  typeId: string | null;
  /** An admission of record (an entry or exit that counts); otherwise a refusal, counted under `reason`. */
  admits: boolean;
  /** Where the person was inside before the scan and after it: the gate of the ticket's last entry, or null when outside. */
  insideBefore: InsideAt | null;
  insideAfter: InsideAt | null;
  /** The scan is the ticket's first admission (it joins `admitted`). */
  firstAdmission: boolean;
}

export interface InsideAt {
  gateId: string | null;
}

export interface Bus {
  publish(message: BusMessage): void;
  subscribe(listener: (message: BusMessage) => void): () => void;
  close(): Promise<void>;
}

const CHANNEL = 'entrada:bus';

/**
 * In-process fan-out, plus Redis pub/sub when REDIS_URL is set so every API
 * instance hears about changes made on the others (cache invalidation,
 * live occupancy).
 */
export function createBus(opts: { redisUrl: string | undefined; log: Logger }): Bus {
  const local = new EventEmitter();
  local.setMaxListeners(0);
  const origin = randomUUID();
  let pub: Redis | null = null;
  let sub: Redis | null = null;
  if (opts.redisUrl) {
    pub = new Redis(opts.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false });
    sub = new Redis(opts.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 });
    const quiet = (err: Error): void =>
      opts.log.warn({ err: err.message }, 'redis unavailable; continuing without cross-instance fan-out');
    pub.on('error', quiet);
    sub.on('error', quiet);
    void sub.subscribe(CHANNEL).catch(quiet);
    sub.on('message', (_channel: string, raw: string) => {
      try {
        const { o, m } = JSON.parse(raw) as { o: string; m: BusMessage };
        if (o !== origin) local.emit('message', m);
      } catch {
        // A malformed message from another version is ignored, never fatal.
      }
    });
  }
  return {
    publish(message) {
      local.emit('message', message);
      if (pub?.status === 'ready')
        void pub.publish(CHANNEL, JSON.stringify({ o: origin, m: message })).catch(() => undefined);
    },
    subscribe(listener) {
      local.on('message', listener);
      return () => local.off('message', listener);
    },
    async close() {
      local.removeAllListeners();
      await Promise.all([pub?.quit().catch(() => undefined), sub?.quit().catch(() => undefined)]);
    },
  };
}
