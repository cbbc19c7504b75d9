import type { TicketFacts, TicketStatus } from '../model.ts';

/**
 * A ticket's status at a time, which is what an offline scan is judged on (seed 004's "request state race"): a scan
 * made while the ticket was blocked is refused even if it is uploaded after the unblock, and one made after an unblock
 * or reinstatement is admitted even if the device still believed the ticket blocked.
 *
 * The boundary is the change's instant, as for every rule with a time (closed gates, validity windows): a change at
 * `t` applies to a scan at `t`. A ticket is valid before its first change (tickets are issued valid).
 *
 * With a history, the last change at or before `at` decides (changes in the order they were made). Without one
 * (a manifest from an older server, a ticket cache that holds no history) only the current status is known: it
 * holds from `statusChangedAt` (always, when that is unknown) and the ticket counts as valid before it — the rule
 * before histories, which an online scan (decided at the server's now, after every change) still gets right.
 */
export function ticketStatusAt(ticket: TicketFacts, at: number): TicketStatus {
  const history = ticket.statusHistory;
  if (history === undefined || history.length === 0) {
    if (ticket.status === 'valid') return 'valid';
    return ticket.statusChangedAt === null || at >= ticket.statusChangedAt ? ticket.status : 'valid';
  }
  let status: TicketStatus = 'valid';
  for (const change of history) if (change.at <= at) status = change.status;
  return status;
}
