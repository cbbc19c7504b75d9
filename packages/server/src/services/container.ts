import type { Database } from '../db/database.ts';
import type { Authenticator } from './auth.ts';
import type { Bus } from './bus.ts';
import type { DeviceService } from './device-service.ts';
import type { EventContexts } from './event-context.ts';
import type { EventService } from './event-service.ts';
import type { ScanService } from './scan-service.ts';
import type { TicketCache } from './ticket-cache.ts';
import type { TicketService } from './ticket-service.ts';

/** Everything routes may call. Routes decode, call one of these, encode. */
export interface Services {
  db: Database;
  bus: Bus;
  auth: Authenticator;
  contexts: EventContexts;
  tickets: TicketService;
  ticketCache: TicketCache;
  events: EventService;
  devices: DeviceService;
  scans: ScanService;
  now: () => number;
  version: string;
}
