import { verdictTone, type VerdictTone } from '@entrada/core';
import type { ScanVerdict } from './api-types.ts';
import { ago } from './format.ts';

// Core's tone decides the colour, as on the scanner app: green go, amber wait, red stop.
const BACKGROUND: Record<VerdictTone, string> = {
  go: '\x1b[1;97;42m',
  wait: '\x1b[1;30;43m',
  stop: '\x1b[1;97;41m',
};
const MARK: Record<VerdictTone, string> = { go: '✔', wait: '⚠', stop: '✖' };
const RULE: Record<VerdictTone, string> = { go: '=', wait: '!', stop: '#' };
const RESET = '\x1b[0m';

/** The word a gate shows: the reason when it is more telling than the result. */
export function verdictTitle(v: Pick<ScanVerdict, 'result' | 'reason' | 'direction'>): string {
  switch (v.result) {
    case 'valid':
      return v.direction === 'exit' ? 'VALID — EXIT' : v.reason === 're_entry' ? 'VALID — RE-ENTRY' : 'VALID';
    case 'duplicate':
      return 'DUPLICATE';
    case 'invalid_token':
      return 'INVALID';
    case 'wrong_event':
      return 'WRONG EVENT';
    case 'wrong_gate':
      return 'WRONG GATE';
    case 'cancelled':
      return v.reason === 'blocked' ? 'BLOCKED' : 'CANCELLED';
    case 'not_valid_now':
      return v.reason === 'not_yet_valid' ? 'NOT YET VALID' : v.reason === 'expired' ? 'EXPIRED' : 'NOT VALID NOW';
    default:
      return String(v.result).toUpperCase();
  }
}

/**
 * What a gate screen would show: a full-width band readable from a step
 * away, then the facts a steward checks. Without colour the band is drawn
 * with characters, so the verdict still stands out in a log.
 */
export function renderVerdict(v: ScanVerdict, opts: { color: boolean; columns: number; now?: number }): string[] {
  const width = Math.max(40, Math.min(opts.columns, 120));
  const title = verdictTitle(v);
  const tone = verdictTone(v.reason);
  const mark = MARK[tone];
  const centred = center(`${mark}  ${title}  ${mark}`, width);
  const lines: string[] = [];
  if (opts.color) {
    const bg = BACKGROUND[tone];
    const blank = ' '.repeat(width);
    lines.push(bg + blank + RESET, bg + centred + RESET, bg + blank + RESET);
  } else {
    const rule = RULE[tone].repeat(width);
    lines.push(rule, centred.trimEnd(), rule);
  }
  lines.push('', `  ${v.message}`, '');
  const facts: Array<[string, string]> = [];
  if (v.ticket) {
    facts.push(['Ticket', `#${v.ticket.number}`], ['Tier', v.ticket.tier], ['Holder', v.ticket.holder_name ?? '—']);
    facts.push(['Scans used', `${v.ticket.scans_used} of ${v.ticket.max_scans}`]);
  }
  if (v.result === 'duplicate' && v.first_scanned_at) {
    const by = v.scanned_by_name ? `${v.scanned_by_name}${v.scanned_by ? ` (${v.scanned_by})` : ''}` : v.scanned_by;
    facts.push(['First scanned', `${v.first_scanned_at} (${ago(v.first_scanned_at, opts.now)})`]);
    if (by) facts.push(['Scanned by', by]);
    if (v.previous_gate) facts.push(['Previous gate', v.previous_gate]);
  }
  facts.push(['Direction', v.direction], ['Result', `${v.result} (${v.reason})`]);
  const pad = Math.max(...facts.map(([k]) => k.length)) + 2;
  for (const [k, value] of facts) lines.push(`  ${k.padEnd(pad)}${value}`);
  return lines;
}

function center(text: string, width: number): string {
  // Count code points, not UTF-16 units, so the symbols do not skew the centring.
  const length = [...text].length;
  const left = Math.max(0, Math.floor((width - length) / 2));
  return ' '.repeat(left) + text + ' '.repeat(Math.max(0, width - length - left));
}
