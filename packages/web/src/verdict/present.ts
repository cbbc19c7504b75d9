import { verdictTone, type VerdictTone } from '@entrada/core';
import type { ScanOutcome } from '@entrada/client';

export type Tone = VerdictTone;

/** What the verdict screen shows: a colour, a shape and one word before any detail, so nobody has to read to act. */
export interface Presentation {
  tone: Tone;
  /** ✓ / ! / ✕ — the shape carries the meaning for colour-blind stewards and in glare. */
  icon: string;
  headline: string;
  detail: string;
  who: string | null;
  /** "Offline" or "Offline · data 14 min old": the steward knows the verdict came from the device. */
  badge: string | null;
  /** How long the screen stays before going back to the camera (ms); a red one waits for a tap or the next scan. */
  holdMs: number | null;
}

const STOP_HEADLINES: Partial<Record<string, string>> = {
  already_used: 'ALREADY USED',
  already_inside: 'ALREADY INSIDE',
  cancelled: 'CANCELLED',
  blocked: 'BLOCKED',
  not_yet_valid: 'NOT VALID YET',
  expired: 'EXPIRED',
  wrong_gate: 'WRONG GATE',
  wrong_event: 'WRONG EVENT',
  unknown_code: 'INVALID',
  malformed_code: 'UNREADABLE',
  bad_signature: 'INVALID',
  unknown_key: 'INVALID',
};

export function present(o: ScanOutcome, opts: { dataAgeMs: number | null }): Presentation {
  const who = describeHolder(o.ticket);
  const badge = o.source === 'online' ? null : offlineBadge(o.stale, opts.dataAgeMs, o.expired);
  if (o.result === null) {
    return { tone: 'wait', icon: '!', headline: 'CHECK MANUALLY', detail: o.message, who, badge, holdMs: null };
  }
  // The tone is core's, as on every other screen; this only words it for a phone.
  const reason = o.reason ?? (o.result === 'valid' ? 'admitted' : 'unknown_code');
  const tone = verdictTone(reason, { stale: o.stale });
  if (o.result === 'valid') {
    const headline =
      o.reason === 'exited' || o.reason === 'exit_not_inside'
        ? 'EXIT OK'
        : o.reason === 're_entry'
          ? 'RE-ENTRY'
          : 'ADMIT';
    // A stale manifest cannot know about scans on other devices: admit, but flag it amber.
    const detail = o.stale ? `${o.message} (device data may be out of date)` : o.message;
    return { tone, icon: '✓', headline, detail, who, badge, holdMs: tone === 'go' ? 1500 : 2500 };
  }
  if (tone === 'wait') {
    return { tone, icon: '!', headline: 'JUST SCANNED', detail: o.message, who, badge, holdMs: 2500 };
  }
  const headline = (o.reason && STOP_HEADLINES[o.reason]) ?? 'STOP';
  return { tone, icon: '✕', headline, detail: o.message, who, badge, holdMs: null };
}

function describeHolder(t: ScanOutcome['ticket']): string | null {
  if (!t) return null;
  const parts = [t.holderName, t.tier, t.number ? `#${t.number}` : null].filter((p): p is string => !!p);
  return parts.length > 0 ? parts.join(' · ') : null;
}

function offlineBadge(stale: boolean, ageMs: number | null, expired: boolean): string {
  if (ageMs === null) return 'Offline · no ticket data';
  const age = formatAge(ageMs);
  if (expired) return `Offline · data EXPIRED (${age} old)`;
  return stale ? `Offline · data ${age} old` : 'Offline';
}

/** "45 s", "14 min", "3 h 5 min": compact and unambiguous on a small screen. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  const rest = m % 60;
  return rest === 0 ? `${h} h` : `${h} h ${rest} min`;
}
