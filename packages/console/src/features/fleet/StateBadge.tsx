/** A device's state as a word and a shape, coloured: never colour alone. */
import type { ReactNode } from 'react';
import { STATE_WORDS, type FleetState } from './fleet-state.ts';

export function StateBadge({ state }: { state: FleetState }): ReactNode {
  const w = STATE_WORDS[state];
  return (
    <span className={`fleet-state fleet-${state}`}>
      <span aria-hidden="true">{w.shape} </span>
      {w.label}
    </span>
  );
}
