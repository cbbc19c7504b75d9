import type { Clock } from './clock.ts';
import type { FetchLike } from './http.ts';

/**
 * Seed 004's connectivity detection for a gate: `online` (the server answered
 * its health probe within the slow threshold), `slow` (it answered, or is
 * still answering, after it: counted as offline for decisions, since a gate
 * cannot keep a queue waiting 2 s per ticket), `offline` (no answer, a
 * transport error, or the server says its database is down), or `unknown`
 * (never probed yet; scans then try the server as before).
 */
export type ConnectivityLevel = 'unknown' | 'online' | 'slow' | 'offline';

export interface ConnectivityState {
  level: ConnectivityLevel;
  /** Time to the health answer (device clock), -1 when there was none. */
  latencyMs: number;
  lastCheckedAt: number | null;
  serverReachable: boolean;
  /** The platform said there is no network: nothing was probed. */
  hintOffline: boolean;
  /** Why it is not online, for the status panel ("Health check took 2.3 s"). */
  detail: string | null;
  nextProbeAt: number | null;
}

/** Counts a slower server as offline for decisions (issue 14, seed 004). */
export const SLOW_THRESHOLD_MS = 1_500;
/** Seed 004's probe budget: after it, no answer means unreachable. */
export const PROBE_TIMEOUT_MS = 5_000;

export interface ConnectivityOptions {
  baseUrl: string;
  fetch: FetchLike;
  clock: Clock;
  random: () => number;
  /**
   * False when the platform knows there is no network (`navigator.onLine`;
   * in Node an injected hint). No probe is sent then: it cannot succeed, and
   * on a phone it would only wake the radio. Only "down" is trusted.
   */
  onlineHint?: () => boolean;
  slowThresholdMs?: number;
  probeTimeoutMs?: number;
  /** While online, how often the server is probed again. */
  onlineEveryMs?: number;
  /** While slow or offline: full-jitter backoff from base, doubling to cap (so a gate's phones do not probe in lockstep). */
  backoff?: { baseMs: number; capMs: number };
  onChange?: (state: ConnectivityState) => void;
}

/**
 * Probes `GET /api/health` and keeps the gate's connectivity level. Timers
 * come from the injected clock, so a test drives the schedule and the slow
 * threshold while a real HTTP server answers.
 */
export class ConnectivityMonitor {
  private state: ConnectivityState = {
    level: 'unknown',
    latencyMs: -1,
    lastCheckedAt: null,
    serverReachable: false,
    hintOffline: false,
    detail: null,
    nextProbeAt: null,
  };
  private timer: unknown = null;
  private running = false;
  private inFlight: Promise<ConnectivityState> | null = null;
  /** Consecutive probes that were not online: the backoff's exponent. */
  private failures = 0;
  private readonly slowMs: number;
  private readonly timeoutMs: number;
  private readonly onlineEveryMs: number;
  private readonly backoff: { baseMs: number; capMs: number };

  constructor(private readonly o: ConnectivityOptions) {
    this.slowMs = o.slowThresholdMs ?? SLOW_THRESHOLD_MS;
    this.timeoutMs = Math.max(o.probeTimeoutMs ?? PROBE_TIMEOUT_MS, this.slowMs);
    this.onlineEveryMs = o.onlineEveryMs ?? 30_000;
    this.backoff = o.backoff ?? { baseMs: 2_000, capMs: 60_000 };
  }

  get current(): ConnectivityState {
    return { ...this.state };
  }

  /** True when scans should be decided on the device without trying the server first. */
  get decideOffline(): boolean {
    return this.state.level === 'slow' || this.state.level === 'offline';
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.probe();
  }

  stop(): void {
    this.running = false;
    this.clearTimer();
  }

  /** The platform's `online` event: probe now, from a fresh backoff. */
  onOnline(): Promise<ConnectivityState> {
    this.failures = 0;
    return this.probe();
  }

  /**
   * The platform's `offline` event: offline at once. No request is sent until
   * it says online again; only the hint itself is looked at again now and
   * then (a Node hint has no event to call onOnline).
   */
  onOffline(): void {
    this.set({
      level: 'offline',
      latencyMs: -1,
      serverReachable: false,
      hintOffline: true,
      detail: 'No network on this device',
    });
    this.schedule(this.backoff.baseMs);
  }

  /**
   * Something else measured the server (an online scan answered, or ran out
   * of its budget): taken as a probe result, so the level follows real
   * traffic too. Ignored while not started (the engine then behaves as
   * before: every scan tries the server first).
   */
  report(level: 'online' | 'slow' | 'offline', latencyMs: number, detail: string | null = null): void {
    if (!this.running) return;
    this.conclude(
      level,
      latencyMs,
      level !== 'offline',
      detail ?? (level === 'slow' ? this.slowDetail(latencyMs) : null),
    );
  }

  /** One probe now (joins one already running). Resolves with the state it ended in. */
  probe(): Promise<ConnectivityState> {
    if (this.o.onlineHint && !this.o.onlineHint()) {
      this.onOffline();
      return Promise.resolve(this.current);
    }
    this.inFlight ??= this.runProbe().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async runProbe(): Promise<ConnectivityState> {
    const { clock } = this.o;
    this.clearTimer();
    const started = clock.now();
    const controller = new AbortController();
    let answered = false;
    // Past the threshold with no answer yet: slow already — scans stop waiting for it now, not at the 5 s budget.
    const slowTimer = clock.setTimeout(() => {
      if (!answered)
        this.set({
          level: 'slow',
          latencyMs: -1,
          serverReachable: this.state.serverReachable,
          detail: `No answer within ${seconds(this.slowMs)}`,
        });
    }, this.slowMs);
    const budget = clock.setTimeout(() => controller.abort(), this.timeoutMs);
    const timedOut = new Promise<'timeout'>((resolve) =>
      controller.signal.addEventListener('abort', () => resolve('timeout')),
    );
    try {
      const res = await Promise.race([
        this.o.fetch(this.o.baseUrl + '/api/health', {
          method: 'GET',
          headers: { accept: 'application/json' },
          signal: controller.signal,
        }),
        timedOut,
      ]);
      if (res === 'timeout') return this.conclude('offline', -1, false, `No answer within ${seconds(this.timeoutMs)}`);
      // The body too: a server that sends its headers and then stalls is not answering.
      if ((await Promise.race([res.text(), timedOut])) === 'timeout')
        return this.conclude('offline', -1, true, `No complete answer within ${seconds(this.timeoutMs)}`);
      answered = true;
      const latency = clock.now() - started;
      // 503: the server is there but its database is not; a scan sent to it would fail, so decide on the device.
      if (res.status !== 200)
        return this.conclude('offline', latency, true, `The server answered ${res.status} (not ready)`);
      return this.conclude(
        latency > this.slowMs ? 'slow' : 'online',
        latency,
        true,
        latency > this.slowMs ? this.slowDetail(latency) : null,
      );
    } catch (err) {
      return this.conclude(
        'offline',
        -1,
        false,
        `Cannot reach the server (${err instanceof Error ? err.message : String(err)})`,
      );
    } finally {
      answered = true;
      clock.clearTimeout(slowTimer);
      clock.clearTimeout(budget);
    }
  }

  private conclude(
    level: 'online' | 'slow' | 'offline',
    latencyMs: number,
    reachable: boolean,
    detail: string | null,
  ): ConnectivityState {
    this.failures = level === 'online' ? 0 : this.failures + 1;
    const delay =
      level === 'online'
        ? this.onlineEveryMs
        : Math.max(
            250,
            Math.floor(this.o.random() * Math.min(this.backoff.capMs, this.backoff.baseMs * 2 ** (this.failures - 1))),
          );
    this.set({
      level,
      latencyMs,
      lastCheckedAt: this.o.clock.now(),
      serverReachable: reachable,
      hintOffline: false,
      detail,
    });
    this.schedule(delay);
    return this.current;
  }

  private schedule(ms: number): void {
    this.clearTimer();
    if (!this.running) return;
    this.state.nextProbeAt = this.o.clock.now() + ms;
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null;
      void this.probe();
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    this.state.nextProbeAt = null;
  }

  private slowDetail(ms: number): string {
    return `The server took ${seconds(ms)} to answer (over ${seconds(this.slowMs)}): deciding on this device`;
  }

  private set(patch: Partial<ConnectivityState>): void {
    const before = this.state;
    this.state = { ...this.state, ...patch };
    if (
      before.level !== this.state.level ||
      before.detail !== this.state.detail ||
      before.latencyMs !== this.state.latencyMs
    )
      this.o.onChange?.(this.current);
  }
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
