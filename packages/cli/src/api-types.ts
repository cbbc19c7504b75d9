/** The shapes of the API answers the CLI reads (see packages/server/src/routes). */
import type { AdminTokenView, CreatedAdminTokenResponse, UserView, PairingCodeResponse, ScanVerdictResponse, StaffView } from '@entrada/core';

export interface EventSummary {
  id: string; name: string; starts_at: string; ends_at: string; timezone: string; created_at: string;
}

export interface NamedWithZones { id: string; name: string; zone_ids: string[] }

export interface EventDetail extends EventSummary {
  zones: Array<{ id: string; name: string; capacity: number | null }>;
  gates: NamedWithZones[];
  ticket_types: Array<NamedWithZones & { max_scans: number; allow_reentry: boolean }>;
}

export interface IssuedTicket { id: string; number: string; code: string }

export interface ExportedTicket {
  id: string; number: string; tier: string; holder_name: string | null; status: string; code: string;
  scans_used: number; max_scans: number; inside: boolean; serial: number;
}

export interface TicketPage { tickets: ExportedTicket[]; next_after: number | null }

export interface DeviceView {
  device_id: string; name: string; device_type: string; status: string; has_public_key: boolean;
  last_seen_at: string | null; created_at: string;
}

/** The scan endpoint's answer: core's protocol type, shared with the server. */
export type ScanVerdict = ScanVerdictResponse;

/** `POST /api/v1/devices/pairing-codes`: core's protocol type. */
export type PairingCode = PairingCodeResponse;

/** A staff account as the staff endpoints answer it. */
export type StaffMember = StaffView;

/** An admin token as `GET /api/v1/tokens` lists it: core's protocol type. */
export type AdminToken = AdminTokenView;

/** `POST /api/v1/tokens`: the listing's fields and the token, shown once. */
export type CreatedAdminToken = CreatedAdminTokenResponse;

/** `GET /api/v1/users`: an organiser's account (never its password). */
export type User = UserView;
