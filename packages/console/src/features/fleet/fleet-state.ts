/** What state a device is in, as words, a shape and a colour together (never colour alone). */
import type { FleetDevice } from '@entrada/core';

export type FleetState = 'critical' | 'attention' | 'online' | 'offline' | 'suspended' | 'revoked';

export const STATE_WORDS: Record<FleetState, { label: string; shape: string; rank: number }> = {
  critical: { label: 'Critical', shape: '■', rank: 0 },
  attention: { label: 'Needs attention', shape: '▲', rank: 1 },
  offline: { label: 'Offline', shape: '○', rank: 2 },
  online: { label: 'Online', shape: '●', rank: 3 },
  suspended: { label: 'Suspended', shape: '◌', rank: 4 },
  revoked: { label: 'Revoked', shape: '×', rank: 5 },
};

export function fleetState(d: FleetDevice): FleetState {
  if (d.status === 'revoked') return 'revoked';
  if (d.alerts.some((a) => a.severity === 'critical')) return 'critical';
  if (needsAttention(d)) return 'attention';
  if (d.status === 'suspended') return 'suspended';
  return d.online ? 'online' : 'offline';
}

/** A few failed syncs in a row are a flaky network; this many is worth a look before the alert (over 10). */
const ATTENTION_FAILURES = 3;

/** Open alerts, scans held on a device that is offline, scans missing, or syncs failing. */
export function needsAttention(d: FleetDevice): boolean {
  if (d.status === 'revoked') return false;
  return (
    d.alerts.length > 0 ||
    (!d.online && (d.pending_scans ?? 0) > 0) ||
    d.missing_count > 0 ||
    d.consecutive_sync_failures >= ATTENTION_FAILURES
  );
}

/** "+2 s", "−7 min": how far the device's clock is from the server's. */
export function clockWords(ms: number | null): string {
  if (ms === null) return '—';
  const sign = ms < 0 ? '−' : '+';
  const a = Math.abs(ms);
  if (a < 1_000) return 'in step';
  if (a < 60_000) return `${sign}${Math.round(a / 1_000)} s`;
  if (a < 3_600_000) return `${sign}${Math.round(a / 60_000)} min`;
  return `${sign}${(a / 3_600_000).toFixed(1)} h`;
}

export function durationWords(ms: number | null): string {
  if (ms === null) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

export const rangesWords = (ranges: Array<[number, number]>): string =>
  ranges.map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join(', ');
