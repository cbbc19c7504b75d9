/** Issue N signed tickets of one type (Entrada makes the codes). */
import { useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent, type ReactNode } from 'react';
import { errorText } from '../../api/client.ts';
import type { EventDetail } from '../../api/types.ts';
import { ErrorBox, Field, Modal, TextField } from '../../ui/kit.tsx';
import { importTickets } from './tickets.queries.ts';

const MAX = 100_000;

export function IssueDialog({ event, onClose }: { event: EventDetail; onClose: () => void }): ReactNode {
  const [typeId, setTypeId] = useState(event.ticket_types[0]?.id ?? '');
  const [count, setCount] = useState('10');
  const [error, setError] = useState<string | null>(null);
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const [done, setDone] = useState<number | null>(null);
  const qc = useQueryClient();
  async function submit(e: FormEvent): Promise<void> {
    e.preventDefault();
    const n = /^\d+$/.test(count) ? Number(count) : NaN;
    if (!typeId) return setError('Choose a ticket type (add one in the event set-up first).');
    if (!Number.isInteger(n) || n < 1 || n > MAX)
      return setError(`How many must be a whole number from 1 to ${MAX.toLocaleString('en')}.`);
    setError(null);
    try {
      // All or nothing: one import session, however many.
      const made = await importTickets(
        event.id,
        Array.from({ length: n }, () => ({ ticket_type_id: typeId })),
        (d, t) => setProgress({ done: d, total: t }),
      );
      setDone(made);
      await qc.invalidateQueries({ queryKey: ['events', event.id, 'tickets'] });
    } catch (err) {
      setError(`${errorText(err)} No tickets were issued.`);
      setProgress(null);
    }
  }
  return (
    <Modal
      title="Issue tickets"
      open
      onOpenChange={(o) => {
        if (!o) onClose();
      }}
    >
      {done !== null ? (
        <>
          <p role="status">{done.toLocaleString('en')} tickets issued.</p>
          <div className="actions">
            <button type="button" className="primary" onClick={onClose}>
              Done
            </button>
          </div>
        </>
      ) : (
        <form onSubmit={(e) => void submit(e)} noValidate>
          <Field label="Ticket type">
            {(id) => (
              <select id={id} value={typeId} onChange={(e) => setTypeId(e.target.value)}>
                {event.ticket_types.map((t) => (
                  <option key={t.id} value={t.id}>
                    {t.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <TextField label="How many" name="issue-count" inputMode="numeric" value={count} onChange={setCount} />
          {progress && <progress max={progress.total} value={progress.done} aria-label="Issuing tickets" />}
          <ErrorBox error={error} />
          <div className="actions">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className="primary" disabled={progress !== null}>
              Issue tickets
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}
