import type { Direction } from '@entrada/core';
import { useState } from 'react';
import type { DeviceCredentials } from '../device/credentials.ts';
import type { StaffSession } from '../device/staff.ts';
import type { GateChoice } from '../engine/engine.ts';

/** Which gate this device stands at and which way people pass: the rules depend on both. */
export function GateScreen({
  creds,
  staff,
  onChosen,
}: {
  creds: DeviceCredentials;
  staff: StaffSession;
  onChosen: (g: GateChoice) => void;
}) {
  const [direction, setDirection] = useState<Direction>('entry');
  return (
    <div className="screen setup">
      <h1>Choose your gate</h1>
      <p className="hint">
        {creds.event.name} · {staff.name}
      </p>
      <div className="segmented" role="radiogroup" aria-label="Direction">
        {(['entry', 'exit'] as const).map((d) => (
          <button
            key={d}
            role="radio"
            aria-checked={direction === d}
            className={direction === d ? 'seg on' : 'seg'}
            onClick={() => setDirection(d)}
          >
            {d === 'entry' ? 'Entry' : 'Exit'}
          </button>
        ))}
      </div>
      <div className="stack">
        {creds.gates.map((g) => (
          <button
            key={g.id}
            className={g.id === creds.gateId ? 'big gate preferred' : 'big gate'}
            onClick={() => onChosen({ gateId: g.id, direction })}
          >
            {g.name}
          </button>
        ))}
        {creds.gates.length === 0 && (
          <button className="big gate" onClick={() => onChosen({ gateId: null, direction })}>
            No gate (roaming)
          </button>
        )}
      </div>
    </div>
  );
}
