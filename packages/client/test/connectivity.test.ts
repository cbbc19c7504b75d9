import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectivityMonitor, type ConnectivityState } from '../src/connectivity.ts';
import type { FetchLike } from '../src/http.ts';
import { Scanner } from '../src/scanner.ts';
import { MemoryStore } from '../src/storage/memory-store.ts';
import { ManualClock } from './manual-clock.ts';

const realFetch: FetchLike = (url, init) => fetch(url, init);
const EVENT = '0190aaaa-0000-7000-8000-000000000001';

/**
 * A tiny real HTTP server whose health answers the test releases by hand:
 * held requests are "slow" for exactly as long as the test's clock says.
 */
class HeldServer {
  server!: Server;
  url = '';
  held: Array<() => void> = [];
  requests: string[] = [];
  status = 200;
  private arrived: Array<() => void> = [];

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      this.requests.push(`${req.method} ${req.url}`);
      const answer = (): void => {
        res.writeHead(this.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: this.status === 200 ? 'ok' : 'degraded' }));
      };
      if (req.url === '/api/health') this.held.push(answer);
      else {
        res.writeHead(500);
        res.end('{}');
      }
      for (const w of this.arrived.splice(0)) w();
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once `n` health requests are waiting. */
  async waitHeld(n = 1): Promise<void> {
    while (this.held.length < n) await new Promise<void>((resolve) => this.arrived.push(resolve));
  }

  release(): void {
    for (const answer of this.held.splice(0)) answer();
  }

  close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Lets the real fetch and the monitor's promise chain run (no clock time passes). */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('connectivity probe (GET /api/health) against a real HTTP server', () => {
  const srv = new HeldServer();
  let clock: ManualClock;
  let seen: ConnectivityState[];
  const monitor = (opts: { onlineHint?: () => boolean; baseUrl?: string } = {}): ConnectivityMonitor =>
    new ConnectivityMonitor({
      baseUrl: opts.baseUrl ?? srv.url,
      fetch: realFetch,
      clock,
      random: () => 0.999,
      onChange: (s) => seen.push(s),
      ...(opts.onlineHint ? { onlineHint: opts.onlineHint } : {}),
    });

  beforeAll(() => srv.start());
  afterAll(() => srv.close());
  beforeEach(() => {
    clock = new ManualClock(1_000_000);
    seen = [];
    srv.release();
    srv.requests = [];
    srv.status = 200;
  });

  it('is online when the server answers within 1.5 s, and measures the latency', async () => {
    const m = monitor();
    m.start();
    await srv.waitHeld();
    clock.advance(300);
    srv.release();
    await until(() => m.current.level === 'online', 'online');
    expect(m.current).toMatchObject({ level: 'online', latencyMs: 300, serverReachable: true });
    expect(m.decideOffline).toBe(false);
    // Probed again 30 s later while online.
    expect(m.current.nextProbeAt).toBe(clock.now() + 30_000);
    m.stop();
  });

  it('counts a server slower than 1.5 s as offline for decisions — at the threshold, before its answer arrives', async () => {
    const m = monitor();
    m.start();
    await srv.waitHeld();
    clock.advance(1_499);
    expect(m.current.level).toBe('unknown');
    clock.advance(1);
    expect(m.current.level).toBe('slow');
    expect(m.decideOffline).toBe(true);
    clock.advance(700);
    srv.release();
    await until(() => m.current.latencyMs > 0, 'the late answer');
    expect(m.current).toMatchObject({ level: 'slow', latencyMs: 2_200, serverReachable: true });
    expect(m.current.detail).toMatch(/took 2\.2 s/);
    expect(seen.map((s) => s.level)).toEqual(['slow', 'slow']);
    m.stop();
  });

  it('recovers to online when the server is fast again, and backs off (jittered, doubling, capped) while it is not', async () => {
    const m = monitor();
    m.start();
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      await srv.waitHeld();
      clock.advance(5_000); // the whole budget: no answer
      await until(() => m.current.level === 'offline' && m.current.nextProbeAt !== null, 'offline');
      delays.push(m.current.nextProbeAt! - clock.now());
      srv.held.splice(0); // that request is abandoned by the client
      clock.advance(m.current.nextProbeAt! - clock.now());
    }
    // random() = 0.999 takes nearly the whole window: 2 s, 4 s, 8 s, … up to the 60 s cap.
    expect(delays).toEqual([1_998, 3_996, 7_992, 15_984, 31_968, 59_940, 59_940]);
    await srv.waitHeld();
    srv.release();
    await until(() => m.current.level === 'online', 'online again');
    expect(m.decideOffline).toBe(false);
    m.stop();
  });

  it('reads a 503 (database down) as offline: a scan sent there would fail', async () => {
    srv.status = 503;
    const m = monitor();
    m.start();
    await srv.waitHeld();
    srv.release();
    await until(() => m.current.level === 'offline', 'offline');
    expect(m.current).toMatchObject({ serverReachable: true });
    expect(m.current.detail).toMatch(/503/);
    m.stop();
  });

  it('is offline when nothing listens', async () => {
    const m = monitor({ baseUrl: 'http://127.0.0.1:9' });
    m.start();
    await until(() => m.current.level === 'offline', 'offline');
    expect(m.current).toMatchObject({ serverReachable: false, latencyMs: -1 });
    m.stop();
  });

  it('sends no probe while the platform says there is no network, and probes as soon as it says online again', async () => {
    let online = false;
    const m = monitor({ onlineHint: () => online });
    m.start();
    expect(m.current).toMatchObject({ level: 'offline', hintOffline: true });
    clock.advance(10 * 60_000); // the hint is looked at again on a timer, but nothing is sent
    expect(srv.requests).toEqual([]);
    online = true;
    const probing = m.onOnline();
    await srv.waitHeld();
    srv.release();
    expect((await probing).level).toBe('online');
    expect(srv.requests).toEqual(['GET /api/health']);
    m.stop();
  });

  it('a scanner facing a slow server decides scans on the device at once and queues them, without trying the server', async () => {
    const store = new MemoryStore();
    const scanner = new Scanner({
      store,
      baseUrl: srv.url,
      eventId: EVENT,
      fetch: realFetch,
      clock,
      random: () => 0.5,
      device: { deviceId: 'gate-phone', token: 'edt_test' },
      uploadEveryMs: 3_600_000,
      manifestEveryMs: 3_600_000,
    });
    await scanner.start();
    await srv.waitHeld();
    clock.advance(1_500);
    expect(scanner.connectivity.decideOffline).toBe(true);
    const outcome = await scanner.scan('SOME-CODE', { gateId: null, direction: 'entry' });
    expect(outcome).toMatchObject({ source: 'offline', seq: 1 });
    expect((await store.counts(EVENT)).pending).toBe(1);
    // Only the health probe and the sync loop's first run reached the server; no online scan was attempted.
    expect(srv.requests.filter((r) => r.includes('/scanning/scan'))).toEqual([]);
    scanner.stop();
  });
});
