/** One ticket: its state, full scan history (time, gate, device, staff, verdict, online/offline) and status changes with a reason. */
import { useQuery } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { errorText } from '../../api/client.ts';
import { devicesQuery, ticketQuery } from '../../api/queries.ts';
import type { EventDetail } from '../../api/types.ts';
import { IfRole } from '../../auth/session.tsx';
import { describeTicketType } from '../../lib/ticket-type-words.ts';
import { dateTime } from '../../lib/time.ts';
import { ErrorBox, Modal, StatusBadge, TextField } from '../../ui/kit.tsx';
import { useTicketAction, type TicketAction } from './tickets.queries.ts';

const ACTION_WORDS: Record<TicketAction, string> = {
  cancel: 'Cancel ticket',
  block: 'Block ticket',
  unblock: 'Unblock ticket',
  reinstate: 'Reinstate ticket',
};

export function TicketDialog({
  event,
  ticketId,
  onClose,
}: {
  event: EventDetail;
  ticketId: string;
  onClose: () => void;
}): ReactNode {
  const ticket = useQuery(ticketQuery(ticketId));
  const devices = useQuery(devicesQuery());
  const act = useTicketAction(event.id);
  const [reason, setReason] = useState('');
  const tz = event.timezone;
  const gateName = new Map(event.gates.map((g) => [g.id, g.name]));
  const deviceName = new Map(devices.data?.map((d) => [d.device_id, d.name]));
  const zoneName = new Map(event.zones.map((z) => [z.id, z.name]));
  const t = ticket.data;
  const type = t ? event.ticket_types.find((x) => x.id === t.ticket_type_id) : undefined;
  const actions: TicketAction[] = !t
    ? []
    : t.status === 'valid'
      ? ['cancel', 'block']
      : t.status === 'blocked'
        ? ['unblock']
        : t.status === 'cancelled'
          ? ['reinstate']
          : [];
  return (
    <Modal
      title={t ? `Ticket ${t.number}` : 'Ticket'}
      open
      onOpenChange={(o) => {
        if (!o) onClose();
      }}
      wide
    >
      <ErrorBox error={ticket.error ? errorText(ticket.error) : null} />
      {!t && !ticket.error && <p role="status">Loading…</p>}
      {t && (
        <>
          <dl className="facts">
            <dt>Status</dt>
            <dd>
              <StatusBadge status={t.status} />
              {t.status_reason ? ` — ${t.status_reason}` : ''}
            </dd>
            <dt>Holder</dt>
            <dd>{t.holder_name ?? '—'}</dd>
            <dt>Type</dt>
            <dd>{type ? `${type.name}: ${describeTicketType(type, zoneName, tz)}` : t.tier}</dd>
            <dt>Entries used</dt>
            <dd>
              {t.scans_used} of {t.max_scans}
              {t.inside ? ' · inside now' : ''}
            </dd>
          </dl>
          <h3>Scan history</h3>
          {t.scans.length === 0 ? (
            <p className="empty">Not scanned yet.</p>
          ) : (
            <table className="simple">
              <thead>
                <tr>
                  <th scope="col">Time ({tz})</th>
                  <th scope="col">Gate</th>
                  <th scope="col">Device</th>
                  <th scope="col">Staff</th>
                  <th scope="col">Verdict</th>
                  <th scope="col">Where</th>
                </tr>
              </thead>
              <tbody>
                {t.scans.map((s) => (
                  <tr key={s.id}>
                    <td>{dateTime(s.scanned_at, tz)}</td>
                    <td>{s.gate_id ? (gateName.get(s.gate_id) ?? '?') : '—'}</td>
                    <td>{deviceName.get(s.device_id) ?? s.device_name ?? s.device_id}</td>
                    {/* Who was logged in on the device; one deleted since still shows that someone was (id on hover). */}
                    <td title={s.staff_id ?? undefined}>{s.staff_name ?? (s.staff_id ? '(deleted)' : '—')}</td>
                    <td>
                      {s.result}
                      {s.reason ? ` (${s.reason})` : ''} · {s.direction}
                    </td>
                    <td>{s.source === 'online' ? 'online' : 'offline'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {actions.length > 0 && (
            <IfRole role="supervisor">
              <div className="panel">
                <TextField
                  label="Reason"
                  name="ticket-reason"
                  value={reason}
                  onChange={setReason}
                  hint="Recorded with the change, e.g. refunded, lost, fraud."
                />
                <div className="actions">
                  {actions.map((a) => (
                    <button
                      key={a}
                      type="button"
                      className={a === 'cancel' || a === 'block' ? 'danger' : 'primary'}
                      disabled={act.isPending}
                      onClick={() =>
                        act.mutate({ id: t.id, action: a, reason: reason.trim() }, { onSuccess: () => setReason('') })
                      }
                    >
                      {ACTION_WORDS[a]}
                    </button>
                  ))}
                </div>
                <ErrorBox error={act.error ? errorText(act.error) : null} />
              </div>
            </IfRole>
          )}
        </>
      )}
    </Modal>
  );
}
