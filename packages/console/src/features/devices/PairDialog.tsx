/**
 * Pair a scanner: a large QR of the pair URL (the server draws it), the code in text
 * and a countdown to its expiry. The organisation's devices are asked for every 3 s while
 * this is open, and the dialog says when a new one has paired.
 */
import { useQuery } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { errorText } from '../../api/client.ts';
import { devicesQuery } from '../../api/queries.ts';
import type { EventDetail, PairingCodeResponse } from '../../api/types.ts';
import { ErrorBox, Field, Modal, TextField } from '../../ui/kit.tsx';
import { useCreatePairingCode } from './devices.queries.ts';

function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export function PairDialog({ event, onClose }: { event: EventDetail; onClose: () => void }): ReactNode {
  const [name, setName] = useState('');
  const [gateId, setGateId] = useState(event.gates[0]?.id ?? '');
  const [code, setCode] = useState<PairingCodeResponse | null>(null);
  const devices = useQuery({ ...devicesQuery(), refetchInterval: 3000 }).data ?? [];
  // The devices there were when the code was made: a device not among them has just paired.
  const [known, setKnown] = useState<Set<string> | null>(null);
  const create = useCreatePairingCode();
  const now = useNow();
  const fresh = code && known ? devices.find((d) => !known.has(d.device_id)) : undefined;
  const left = code ? Math.max(0, Math.round((Date.parse(code.expires_at) - now) / 1000)) : 0;

  function submit(e: FormEvent): void {
    e.preventDefault();
    create.mutate(
      { event_id: event.id, ...(gateId ? { gate_id: gateId } : {}), ...(name.trim() ? { name: name.trim() } : {}) },
      {
        onSuccess: (made) => {
          setKnown(new Set(devices.map((d) => d.device_id)));
          setCode(made);
        },
      },
    );
  }

  return (
    <Modal
      title="Pair a scanner"
      open
      onOpenChange={(o) => {
        if (!o) onClose();
      }}
      wide
    >
      {!code ? (
        <form onSubmit={submit} noValidate>
          <p className="muted">
            Make a one-time code, then scan its QR with the scanner's camera or type the code into the scanner app.
          </p>
          <TextField
            label="Device name (optional)"
            name="pair-name"
            value={name}
            onChange={setName}
            hint="For example “Gate A phone 1”. Left empty, the steward names it on the device."
          />
          <Field label="Gate">
            {(id) => (
              <select id={id} name="pair-gate" value={gateId} onChange={(e) => setGateId(e.target.value)}>
                <option value="">Chosen on the device</option>
                {event.gates.map((g) => (
                  <option key={g.id} value={g.id}>
                    {g.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <ErrorBox error={create.error ? errorText(create.error) : null} />
          <div className="actions">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className="primary" disabled={create.isPending}>
              Create pairing code
            </button>
          </div>
        </form>
      ) : (
        <div className="pairing">
          <img
            className="qr"
            src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(code.qr_svg)}`}
            alt={`QR code to pair a scanner: ${code.pair_url}`}
          />
          <div>
            <p>Code</p>
            <p className="code" data-testid="pairing-code">
              {code.code}
            </p>
            <p className="muted">
              or open <span className="url">{code.pair_url}</span>
            </p>
            <p role="timer" aria-live="off" className={left < 60 ? 'warn' : ''} data-testid="pairing-expiry">
              {left > 0
                ? `Expires in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`
                : 'This code has expired. Make a new one.'}
            </p>
            <p role="status" aria-live="polite" data-testid="pairing-status" className={fresh ? 'success' : 'muted'}>
              {fresh ? `Paired: ${fresh.name}` : 'Waiting for the scanner… the list refreshes every 3 seconds.'}
            </p>
            <div className="actions">
              {left === 0 && (
                <button type="button" onClick={() => setCode(null)}>
                  New code
                </button>
              )}
              <button type="button" className="primary" onClick={onClose}>
                {fresh ? 'Done' : 'Close'}
              </button>
            </div>
          </div>
        </div>
      )}
    </Modal>
  );
}
