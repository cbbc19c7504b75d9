/** One conflict: the winning and the losing scan side by side, the ticket's history, and its resolution. */
import { useQuery } from '@tanstack/react-query';
import { useId, useState, type ReactNode } from 'react';
import { errorText } from '../../api/client.ts';
import { devicesQuery, ticketQuery } from '../../api/queries.ts';
import type { EventDetail } from '../../api/types.ts';
import { IfRole } from '../../auth/session.tsx';
import { dateTimeSeconds, delay } from '../../lib/time.ts';
import { ErrorBox, Modal, StatusBadge, TextField } from '../../ui/kit.tsx';
import { VerdictTag } from '../../ui/verdict.tsx';
import { useResolveConflicts, type Conflict, type ConflictScan, type Resolution } from './conflicts.queries.ts';

const RESOLUTIONS: Array<{ value: Resolution; label: string; hint: string }> = [
  {
    value: 'legitimate',
    label: 'Legitimate',
    hint: 'Both entries were right (e.g. a replaced wristband): the losing scan counts as an admission.',
  },
  {
    value: 'fraud',
    label: 'Fraud',
    hint: 'A copied or shared ticket: the losing scan stays refused, and the case is recorded as fraud.',
  },
  {
    value: 'dismissed',
    label: 'Dismissed',
    hint: 'Nothing to act on (a test scan, a double read): the losing scan stays refused.',
  },
];

export function ResolveForm({
  onResolve,
  busy,
  label,
}: {
  onResolve: (r: Resolution, note: string) => void;
  busy: boolean;
  label: string;
}): ReactNode {
  const [resolution, setResolution] = useState<Resolution | null>(null);
  const [note, setNote] = useState('');
  const name = useId();
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        if (resolution) onResolve(resolution, note.trim());
      }}
    >
      <fieldset className="zone-picker">
        <legend>Resolution</legend>
        {RESOLUTIONS.map((r) => (
          <label key={r.value} className="check" title={r.hint}>
            <input
              type="radio"
              name={name}
              value={r.value}
              checked={resolution === r.value}
              onChange={() => setResolution(r.value)}
            />
            {r.label}
          </label>
        ))}
      </fieldset>
      {resolution && <p className="hint">{RESOLUTIONS.find((r) => r.value === resolution)!.hint}</p>}
      <TextField
        label="Note"
        name="conflict-note"
        value={note}
        onChange={setNote}
        hint="Kept with the decision (who decided and when are recorded)."
      />
      <div className="actions">
        <button type="submit" className="primary" disabled={!resolution || busy}>
          {label}
        </button>
      </div>
    </form>
  );
}

export function ConflictDialog({
  event,
  conflict,
  onClose,
}: {
  event: EventDetail;
  conflict: Conflict;
  onClose: () => void;
}): ReactNode {
  const tz = event.timezone;
  const ticket = useQuery(ticketQuery(conflict.ticket.id));
  const devices = useQuery(devicesQuery());
  const resolve = useResolveConflicts(event.id);
  const gateName = new Map(event.gates.map((g) => [g.id, g.name]));
  const deviceName = new Map(devices.data?.map((d) => [d.device_id, d.name]));
  const w = conflict.winner;
  const l = conflict.loser;
  const rows: Array<[string, (s: ConflictScan) => string]> = [
    ['Device', (s) => s.device_name ?? s.device_id],
    ['Staff', (s) => s.staff_name ?? '—'],
    ['Gate', (s) => s.gate ?? '—'],
    ['Direction', (s) => s.direction],
    [`Device time (${tz})`, (s) => dateTimeSeconds(s.scanned_at, tz)],
    [`Upload time (${tz})`, (s) => `${dateTimeSeconds(s.received_at, tz)} (${delay(s.scanned_at, s.received_at)})`],
    [
      'Clock uncertainty',
      (s) =>
        s.clock_uncertainty_ms === null
          ? 'unknown (implausible device clock)'
          : `± ${(s.clock_uncertainty_ms / 1000).toFixed(1)} s`,
    ],
    ['Ambiguous order', (s) => (s.ambiguous ? 'yes' : 'no')],
    ['Online or offline', (s) => s.source],
  ];
  return (
    <Modal
      title={`Conflict · ticket ${conflict.ticket.number ?? ''}`}
      open
      onOpenChange={(o) => {
        if (!o) onClose();
      }}
      wide
    >
      <p>
        <strong>{conflict.reason.replace(/_/g, ' ')}</strong>
        {conflict.ambiguous &&
          " — ambiguous: the two devices' clocks are too uncertain to tell which scan came first."}{' '}
        <StatusBadge status={conflict.status} />
        {conflict.resolution ? ` ${conflict.resolution}` : ''}
      </p>
      {conflict.escalation && (
        <p className="escalation" data-testid="conflict-escalation">
          <span className="badge badge-escalated">Escalated</span> by the gate ({conflict.escalation.device_id},{' '}
          {dateTimeSeconds(conflict.escalation.at, tz)}): &ldquo;{conflict.escalation.note}&rdquo;
        </p>
      )}
      <div className="scroll-x">
        <table className="simple side-by-side" data-testid="conflict-sides">
          <caption className="sr-only">The winning and the losing scan</caption>
          <thead>
            <tr>
              <th scope="col">
                <span className="sr-only">Field</span>
              </th>
              <th scope="col">Winning scan</th>
              <th scope="col">Losing scan</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([label, f]) => {
              const a = w ? f(w) : '—';
              const b = f(l);
              return (
                <tr key={label}>
                  <th scope="row">{label}</th>
                  <td>{a}</td>
                  <td className={w && a !== b ? 'differs' : undefined}>{b}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {conflict.status === 'resolved' && (
        <p data-testid="resolution">
          Resolved as <strong>{conflict.resolution}</strong>
          {conflict.note ? `: “${conflict.note}”` : ''}
          {conflict.resolved_at ? `, ${dateTimeSeconds(conflict.resolved_at, tz)}` : ''}
          {conflict.resolved_by ? ` by ${conflict.resolved_by}` : ''}.
        </p>
      )}
      <h3>Ticket history</h3>
      <ErrorBox error={ticket.error ? errorText(ticket.error) : null} />
      {ticket.data && (
        <div className="scroll-x">
          <table className="simple" data-testid="ticket-history">
            <thead>
              <tr>
                <th scope="col">Device time ({tz})</th>
                <th scope="col">Uploaded</th>
                <th scope="col">Gate</th>
                <th scope="col">Device</th>
                <th scope="col">Staff</th>
                <th scope="col">Verdict</th>
                <th scope="col">Where</th>
              </tr>
            </thead>
            <tbody>
              {ticket.data.scans.map((s) => (
                <tr
                  key={s.id}
                  data-conflict-side={s.id === l.scan_id ? 'lost' : s.id === w?.scan_id ? 'won' : undefined}
                >
                  <td>
                    {dateTimeSeconds(s.scanned_at, tz)}
                    {s.id === l.scan_id ? ' (lost)' : s.id === w?.scan_id ? ' (won)' : ''}
                  </td>
                  <td>{dateTimeSeconds(s.received_at, tz).slice(11)}</td>
                  <td>{s.gate_id ? (gateName.get(s.gate_id) ?? '?') : '—'}</td>
                  <td>{s.device_name ?? deviceName.get(s.device_id) ?? s.device_id}</td>
                  <td title={s.staff_id ?? undefined}>{s.staff_name ?? (s.staff_id ? '(deleted)' : '—')}</td>
                  <td>
                    {s.reason ? <VerdictTag result={s.result} reason={s.reason} /> : s.result} · {s.direction}
                  </td>
                  <td>{s.source}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {conflict.status === 'open' && (
        <IfRole role="supervisor">
          <div className="panel">
            <ResolveForm
              busy={resolve.isPending}
              label="Resolve conflict"
              onResolve={(resolution, note) =>
                resolve.mutate({ ids: [conflict.id], resolution, note }, { onSuccess: onClose })
              }
            />
            <ErrorBox error={resolve.error ? errorText(resolve.error) : null} />
          </div>
        </IfRole>
      )}
    </Modal>
  );
}
