/**
 * The event's live stream (GET /api/v1/events/:id/live, Server-Sent Events), folded into one dashboard state.
 * A console session uses EventSource (the cookie goes with it, and it reconnects with Last-Event-ID by
 * itself); an API-token sign-in cannot put its token on an EventSource, so it reads the same stream with
 * fetch and reconnects the same way. No polling: everything on screen comes from the stream.
 */
import { useEffect, useReducer } from 'react';
import { api } from '../../api/client.ts';

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
  status: 'connecting' | 'live' | 'reconnecting';
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

type Action =
  { type: 'status'; status: LiveState['status'] } | { type: 'message'; event: string; data: unknown; now: number };

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
  if (action.type === 'status') return state.status === action.status ? state : { ...state, status: action.status };
  const { event, now } = action;
  switch (event) {
    case 'occupancy':
      return { ...state, status: 'live', occupancy: action.data as OccupancyLive };
    case 'rate': {
      const d = action.data as { mode: 'snapshot' | 'increment'; gates?: LiveState['gates']; buckets: RateBucket[] };
      const rate = d.mode === 'snapshot' ? new Map<string, RateBucket>() : new Map(state.rate);
      for (const b of d.buckets) {
        const key = `${b.minute}|${b.gate_id}`;
        const had = rate.get(key);
        rate.set(key, had ? { ...had, entries: had.entries + b.entries, exits: had.exits + b.exits } : { ...b });
      }
      for (const [k, b] of rate) if (b.minute < now - WINDOW_MS) rate.delete(k);
      return { ...state, status: 'live', rate, gates: d.gates ?? state.gates };
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

const EVENTS = ['occupancy', 'rate', 'scan', 'device', 'conflict', 'alert'] as const;

/** Opens the stream while mounted; the state follows it, "reconnecting" while it is down. */
export function useLiveDashboard(eventId: string): LiveState {
  const [state, dispatch] = useReducer(liveReducer, initialLive);
  useEffect(() => {
    const url = `/api/v1/events/${encodeURIComponent(eventId)}/live`;
    const deliver = (event: string, text: string): void => {
      try {
        dispatch({ type: 'message', event, data: JSON.parse(text), now: Date.now() });
      } catch {
        // A message this version does not read is skipped, never fatal.
      }
    };
    const creds = api.credentials;
    if (creds.kind === 'token')
      return readWithFetch(url, creds.token, deliver, (status) => dispatch({ type: 'status', status }));
    const source = new EventSource(url, { withCredentials: true });
    source.onopen = () => dispatch({ type: 'status', status: 'live' });
    source.onerror = () => dispatch({ type: 'status', status: 'reconnecting' });
    for (const e of EVENTS) source.addEventListener(e, (m) => deliver(e, (m as MessageEvent<string>).data));
    return () => source.close();
  }, [eventId]);
  return state;
}

/** The same protocol over fetch, for a bearer token: reconnects after 2 s with the last id it saw. */
function readWithFetch(
  url: string,
  token: string,
  deliver: (event: string, data: string) => void,
  status: (s: LiveState['status']) => void,
): () => void {
  let stopped = false;
  let lastId: string | null = null;
  let controller = new AbortController();
  const run = async (): Promise<void> => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
        if (lastId) headers['last-event-id'] = lastId;
        const res = await fetch(url, { headers, signal: controller.signal });
        if (!res.ok || !res.body) throw new Error(String(res.status));
        status('live');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let cut: number;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('id:')) lastId = line.slice(3).trim();
              else if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
            }
            if (data.length) deliver(event, data.join('\n'));
          }
        }
      } catch {
        // Down, refused or aborted: said on screen, tried again below.
      }
      if (stopped) return;
      status('reconnecting');
      await new Promise((r) => setTimeout(r, 2_000));
    }
  };
  void run();
  return () => {
    stopped = true;
    controller.abort();
  };
}
