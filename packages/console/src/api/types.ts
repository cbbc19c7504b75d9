/**
 * Answers of the API as the console reads them, by the names its screens use: every one is core/protocol's
 * type, the schema the server declares as the route's response (so a field renamed on the server fails the
 * console's typecheck, not a screen at run time).
 */
import type { Static } from 'typebox';
import type { TicketDetail, TicketListResponse } from '@entrada/core';

export type {
  AdminTokenView,
  DeviceView,
  EventDetail,
  EventSummary,
  GateView as Gate,
  PairingCodeResponse,
  StaffView,
  TicketTypeView as TicketType,
  TicketView,
  UserView,
  ZoneView as Zone,
} from '@entrada/core';

/** GET /events/:id/tickets: a search page (`next_cursor`, no codes) or an export page (`next_after`, with codes). */
export type TicketListPage = Static<typeof TicketListResponse>;
/** A ticket of either page: its code and serial only on an export page. */
export type TicketRow = TicketListPage['tickets'][number];
export type TicketWithScans = TicketDetail;
export type ScanRow = TicketDetail['scans'][number];
