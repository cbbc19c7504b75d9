/** A verdict shown by colour AND shape AND words (core's verdictTone: the same tone as at the gate). */
import { verdictTone, type VerdictReason, type VerdictTone } from '@entrada/core';
import type { ReactNode } from 'react';

export const TONE_SHAPE: Record<VerdictTone, string> = { go: '✓', wait: '!', stop: '✕' };
export const TONE_WORD: Record<VerdictTone, string> = { go: 'Admit', wait: 'Look again', stop: 'Do not admit' };

export function reasonWords(reason: string): string {
  return reason.replace(/_/g, ' ');
}

/** Core's reasons (a scan's stored reason may also be the sync's own: `admitted_offline`, `refused_offline`). */
const CORE_REASONS = new Set<string>([
  'admitted',
  're_entry',
  'exited',
  'exit_not_inside',
  'forced',
  'double_read',
  'already_used',
  'already_inside',
  'cancelled',
  'blocked',
  'not_yet_valid',
  'expired',
  'wrong_gate',
  'gate_closed',
  'zone_full',
  'wrong_event',
  'unknown_code',
  'malformed_code',
  'bad_signature',
  'unknown_key',
]);

/** The tone of a stored scan: its reason's, or for a reason core does not know, whether it admitted (else red, core's rule). */
export function scanTone(reason: string, admitted?: boolean): VerdictTone {
  if (CORE_REASONS.has(reason)) return verdictTone(reason as VerdictReason);
  return admitted ? 'go' : 'stop';
}

/** "✓ valid · admitted" in the reason's tone, by shape and words as well as colour. */
export function VerdictTag({
  result,
  reason,
  admitted,
}: {
  result?: string;
  reason: string;
  admitted?: boolean;
}): ReactNode {
  const tone = scanTone(reason, admitted ?? result === 'valid');
  return (
    <span className={`verdict-tag tone-${tone}`} data-tone={tone}>
      <span aria-hidden="true">{TONE_SHAPE[tone]}</span>
      {result ? `${result} · ${reasonWords(reason)}` : reasonWords(reason)}
    </span>
  );
}
