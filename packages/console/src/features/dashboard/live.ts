/**
 * The event's live stream (api/event-stream.ts) folded into one dashboard state. No polling: everything on screen
 * comes from the stream.
 */
import { useReducer } from 'react';
import { useEventStream, type StreamStatus } from '../../api/event-stream.ts';

export interface ZoneLive {
  zone_id: string;
  name: string;
  inside: number;
  capacity: number | null;
  entries: number;
  exits: number;
}
export interface OccupancyLive {
  inside: number;
  admitted: number;
  capacity: number | null;
  zones: ZoneLive[];
  pending_max: number;
  pending_devices: number;
  denied: Record<string, number>;
  denied_total: number;
  at: number;
}
export interface ScanLive {
  scan_id: string;
  at: number;
  received_at: number;
  gate_id: string | null;
  gate: string | null;
  device_id: string | null;
  device: string | null;
  staff_id: string | null;
  direction: 'entry' | 'exit';
  verdict: string;
  reason: string | null;
  offline: boolean;
  holder_name?: string | null;
}
export interface RateBucket {
  minute: number;
  gate_id: string | null;
  entries: number;
  exits: number;
}
export interface Notice {
  kind: 'device' | 'conflict' | 'alert';
  text: string;
  at: number;
}

export interface LiveState {
  status: StreamStatus;
  occupancy: OccupancyLive | null;
  gates: Array<{ gate_id: string; name: string }>;
  /** Per minute and gate (key `${minute}|${gate}`), the last 120 minutes. */
  rate: Map<string, RateBucket>;
  scans: ScanLive[];
  notices: Notice[];
  conflictsOpened: number;
  alertsRaised: number;
}

const SCANS_SHOWN = 30;
const WINDOW_MS = 120 * 60_000;

type Action = { type: 'message'; event: string; data: unknown; now: number };

export const initialLive: LiveState = {
  status: 'connecting',
  occupancy: null,
  gates: [],
  rate: new Map(),
  scans: [],
  notices: [],
  conflictsOpened: 0,
  alertsRaised: 0,
};

export function liveReducer(state: LiveState, action: Action): LiveState {
  const { event, now } = action;
  switch (event) {
    case 'occupancy':
      return { ...state, occupancy: action.data as OccupancyLive };
    case 'rate': {
      const d = action.data as { mode: 'snapshot' | 'increment'; gates?: LiveState['gates']; buckets: RateBucket[] };
      const rate = d.mode === 'snapshot' ? new Map<string, RateBucket>() : new Map(state.rate);
      for (const b of d.buckets) {
        const key = `${b.minute}|${b.gate_id}`;
        const had = rate.get(key);
        rate.set(key, had ? { ...had, entries: had.entries + b.entries, exits: had.exits + b.exits } : { ...b });
      }
      for (const [k, b] of rate) if (b.minute < now - WINDOW_MS) rate.delete(k);
      return { ...state, rate, gates: d.gates ?? state.gates };
    }
    case 'scan': {
      const d = action.data as { scans: ScanLive[] };
      const scans = [...d.scans]
        .sort((a, b) => b.at - a.at)
        .concat(state.scans)
        .slice(0, SCANS_SHOWN);
      return { ...state, scans };
    }
    case 'conflict': {
      const d = action.data as { conflict_ids: string[]; state: string };
      const n = d.conflict_ids.length;
      return {
        ...state,
        conflictsOpened: state.conflictsOpened + (d.state === 'opened' ? n : 0),
        notices: [
          { kind: 'conflict' as const, text: `${n} conflict${n === 1 ? '' : 's'} ${d.state}`, at: now },
          ...state.notices,
        ].slice(0, 5),
      };
    }
    case 'alert': {
      const d = action.data as { alert_id: string; state: string };
      return {
        ...state,
        alertsRaised: state.alertsRaised + (d.state === 'raised' ? 1 : 0),
        notices: [{ kind: 'alert' as const, text: `Alert ${d.state}`, at: now }, ...state.notices].slice(0, 5),
      };
    }
    default:
      return state;
  }
}

/** Opens the stream while mounted; the state follows it, "reconnecting" while it is down. */
export function useLiveDashboard(eventId: string): LiveState {
  const [state, dispatch] = useReducer(liveReducer, initialLive);
  const status = useEventStream(eventId, (event, data) => dispatch({ type: 'message', event, data, now: Date.now() }));
  return { ...state, status };
}
