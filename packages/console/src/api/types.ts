/**
 * Answers of the API as the console reads them. Where core/protocol has the schema
 * the type comes from there; the rest mirror the server's route files
 * (packages/server/src/routes) until their schemas move to core.
 */
import type { Static } from 'typebox';
import type { AdminTokenView, PairingCodeResponse, StaffView } from '@entrada/core';
import type { PairedDeviceView } from '@entrada/core';

export type { AdminTokenView, PairingCodeResponse, StaffView };
export type DeviceView = Static<typeof PairedDeviceView> & { default_gate_id?: string | null };

export interface EventSummary {
  id: string;
  name: string;
  starts_at: string;
  ends_at: string;
  timezone: string;
  settings: Record<string, unknown>;
  created_at: string;
}
export interface Zone {
  id: string;
  name: string;
  capacity: number | null;
  capacity_mode?: 'off' | 'warn' | 'enforce';
}
export interface Gate {
  id: string;
  name: string;
  zone_ids: string[];
  closed?: boolean;
  closed_at?: string | null;
}
export interface TicketType {
  id: string;
  name: string;
  zone_ids: string[];
  max_scans: number;
  allow_reentry: boolean;
  valid_from: string | null;
  valid_until: string | null;
}
export interface EventDetail extends EventSummary {
  zones: Zone[];
  gates: Gate[];
  ticket_types: TicketType[];
}

export interface TicketView {
  id: string;
  event_id: string;
  number: string;
  ticket_type_id: string;
  tier: string;
  holder_name: string | null;
  status: 'valid' | 'cancelled' | 'blocked' | string;
  status_reason: string | null;
  status_changed_at: string | null;
  scans_used: number;
  max_scans: number;
  inside: boolean;
  first_scanned_at: string | null;
}
export interface TicketRow extends TicketView {
  code: string;
  serial: number;
}
export interface TicketPage {
  tickets: TicketRow[];
  next_after: number | null;
  next_cursor?: string | null;
}
export interface ScanRow {
  id: string;
  result: string;
  reason: string | null;
  direction: string;
  device_id: string;
  gate_id: string | null;
  session_id: string | null;
  source: string;
  scanned_at: string;
  received_at: string;
  staff_id?: string | null;
}
export interface TicketWithScans extends TicketView {
  scans: ScanRow[];
  /** Every status change, oldest first (absent from servers before issue 14 §2). */
  status_history?: Array<{ at: string; status: string }>;
}

export interface UserView {
  id: string;
  email: string;
  name: string;
  role: string;
  active?: boolean;
  created_at?: string;
  last_login_at?: string | null;
}
