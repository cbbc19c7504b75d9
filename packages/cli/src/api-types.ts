/**
 * The API answers the CLI reads, by the names its commands use: every one is
 * core's protocol type, the schema the server declares for the route.
 */
export type {
  AdminTokenView as AdminToken,
  CreatedAdminTokenResponse as CreatedAdminToken,
  DeviceView,
  EventDetail,
  EventSummary,
  IssuedTicket,
  PairingCodeResponse as PairingCode,
  ScanVerdictResponse as ScanVerdict,
  StaffView as StaffMember,
  TicketPage,
  UserView as User,
} from '@entrada/core';
