/**
 * The event's live stream (GET /api/v1/events/:id/live, Server-Sent Events) as a hook any screen can open: it
 * hands each message to the screen and says whether the stream is up. A console session uses EventSource (the
 * cookie goes with it, and it reconnects with Last-Event-ID by itself, and is opened again when the server refused
 * it); an API-token sign-in cannot put its token
 * on an EventSource, so it reads the same stream with fetch and reconnects the same way.
 */
import { useEffect, useRef, useState } from 'react';
import { api } from './client.ts';

export type StreamStatus = 'connecting' | 'live' | 'reconnecting';

/** The stream's message kinds (the server's `event:` lines). */
const EVENTS = ['occupancy', 'rate', 'scan', 'device', 'conflict', 'alert'] as const;
export type StreamEvent = (typeof EVENTS)[number];

/**
 * Opens the stream while mounted (again when the event changes). `onMessage` gets each message's kind and parsed
 * data; it may change on every render without reopening the stream.
 */
export function useEventStream(eventId: string, onMessage: (event: StreamEvent, data: unknown) => void): StreamStatus {
  // Kept with the event it is about: another event's stream starts again from "connecting".
  const [state, setState] = useState<{ eventId: string; status: StreamStatus }>({ eventId, status: 'connecting' });
  const handler = useRef(onMessage);
  useEffect(() => {
    handler.current = onMessage;
  });
  useEffect(() => {
    const setStatus = (status: StreamStatus): void => setState({ eventId, status });
    const url = `/api/v1/events/${encodeURIComponent(eventId)}/live`;
    const deliver = (event: string, text: string): void => {
      if (!(EVENTS as readonly string[]).includes(event)) return;
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        return; // A message this version does not read is skipped, never fatal.
      }
      handler.current(event as StreamEvent, data);
    };
    const creds = api.credentials;
    if (creds.kind === 'token') return readWithFetch(url, creds.token, deliver, setStatus);
    let source: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let refusals = 0;
    let stopped = false;
    const connect = (): void => {
      const s = new EventSource(url, { withCredentials: true });
      source = s;
      s.onopen = () => {
        refusals = 0;
        setStatus('live');
      };
      s.onerror = () => {
        setStatus('reconnecting');
        // EventSource reconnects a dropped stream by itself, but a refused one (503 BUSY at the server's stream
        // limit, a proxy's 502 during a restart) closes it for good: it is opened again after a growing wait,
        // jittered so that dashboards refused together do not come back together.
        if (s.readyState !== EventSource.CLOSED || stopped) return;
        const wait = Math.min(60_000, 2_000 * 2 ** refusals++) * (0.5 + Math.random() / 2);
        retry = setTimeout(connect, wait);
      };
      for (const e of EVENTS) s.addEventListener(e, (m) => deliver(e, (m as MessageEvent<string>).data));
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      source?.close();
    };
  }, [eventId]);
  return state.eventId === eventId ? state.status : 'connecting';
}

/** The same protocol over fetch, for a bearer token: reconnects after 2 s with the last id it saw. */
function readWithFetch(
  url: string,
  token: string,
  deliver: (event: string, data: string) => void,
  status: (s: StreamStatus) => void,
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
