/**
 * Load shapes for HTTP benchmarks. Both are bounded: they stop at a deadline,
 * or earlier when the job source runs dry, and never wait forever for a reply.
 *
 * A job runner returns a label for each reply ("valid", "duplicate",
 * "http_503 UNAVAILABLE", "error: ECONNRESET"...). A reply counts as OK when
 * its label equals `expect`; everything else is an error, counted per label.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { LatencyRecorder, type LatencySummary } from './latency.ts';

export interface PhaseResult {
  name: string;
  /** Wall time from the first send to the last reply, in seconds. */
  durationS: number;
  requests: number;
  ok: number;
  errors: number;
  /** Successful replies per second over durationS. */
  throughput: number;
  /** Every label with its count (the expected one included). */
  outcomes: Record<string, number>;
  /** True when the phase ended because the job source ran dry. */
  exhausted: boolean;
  latencyMs: LatencySummary;
}

export interface OpenLoopResult extends PhaseResult {
  targetRate: number;
  /** Latency from the scheduled send time (includes any queueing, so stalls are not hidden). */
  latencyMs: LatencySummary;
  /** Latency from the moment the request was actually handed to the client. */
  serviceLatencyMs: LatencySummary;
  /** How late the generator itself was at sending (timer and event-loop lag), ms. */
  sendLagMs: LatencySummary;
  /** Requests still unanswered when the drain timeout expired. */
  abandoned: number;
  /** True when the phase was cut short because too many requests were waiting for replies. */
  overloaded: boolean;
  /** Wall-clock start of the phase (epoch ms), to line stalls up with other logs. */
  startedAtMs: number;
  /** Due times (ms after the start) of requests slower than `slowMs`, at most 2,000: shows when stalls happened. */
  slow: { thresholdMs: number; dueAtMs: number[] };
}

export type Runner<J> = (job: J) => Promise<string>;

async function labelled<J>(run: Runner<J>, job: J): Promise<string> {
  try {
    return await run(job);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return `error: ${e.code ?? e.message ?? String(err)}`;
  }
}

/**
 * Closed loop: `concurrency` workers, each sends its next request as soon as
 * the previous one is answered. Measures throughput at saturation.
 */
export async function closedLoop<J>(opts: {
  name: string;
  concurrency: number;
  durationMs: number;
  next: (worker: number) => J | undefined;
  run: Runner<J>;
  expect: string;
}): Promise<PhaseResult> {
  const latency = new LatencyRecorder();
  const outcomes: Record<string, number> = {};
  let requests = 0;
  let exhausted = false;
  const start = performance.now();
  const deadline = start + opts.durationMs;
  let lastReply = start;

  const worker = async (w: number): Promise<void> => {
    while (performance.now() < deadline) {
      const job = opts.next(w);
      if (job === undefined) {
        exhausted = true;
        return;
      }
      const t0 = performance.now();
      requests++;
      const label = await labelled(opts.run, job);
      const t1 = performance.now();
      latency.record(t1 - t0);
      outcomes[label] = (outcomes[label] ?? 0) + 1;
      lastReply = t1;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
  return finish(opts.name, start, lastReply, requests, outcomes, opts.expect, exhausted, latency);
}

/**
 * Open loop at a fixed rate: request i is due at start + i/rate whatever
 * happened to earlier requests, and its latency is measured from that due
 * time (no coordinated omission: a stall shows up in every request it delayed).
 */
export async function openLoop<J>(opts: {
  name: string;
  rate: number;
  durationMs: number;
  next: (i: number) => J | undefined;
  run: Runner<J>;
  expect: string;
  /** How long to wait for the last replies after the last send. */
  drainTimeoutMs?: number;
  /**
   * Stop sending when this many requests await replies (default: one second's
   * worth): the server cannot keep up, and a growing backlog would only keep it
   * busy long after the phase. Requests not sent are counted as errors.
   */
  maxInFlight?: number;
  /** Requests slower than this (ms, from their due time) are listed in `slow` (default 20). */
  slowMs?: number;
}): Promise<OpenLoopResult> {
  const latency = new LatencyRecorder();
  const service = new LatencyRecorder();
  const sendLag = new LatencyRecorder();
  const outcomes: Record<string, number> = {};
  const interval = 1000 / opts.rate;
  const total = Math.floor((opts.durationMs / 1000) * opts.rate);
  let sent = 0;
  let answered = 0;
  let exhausted = false;
  let overloaded = false;
  let lastReply = 0;
  const maxInFlight = opts.maxInFlight ?? Math.max(100, Math.ceil(opts.rate));
  const slowMs = opts.slowMs ?? 20;
  const slowDue: number[] = [];
  const startedAtMs = Date.now();
  const start = performance.now();
  let allAnswered: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    allAnswered = resolve;
  });

  const fire = (due: number, job: J): void => {
    const t0 = performance.now();
    sendLag.record(t0 - due);
    void labelled(opts.run, job).then((label) => {
      const t1 = performance.now();
      latency.record(t1 - due);
      service.record(t1 - t0);
      if (t1 - due > slowMs && slowDue.length < 2_000) slowDue.push(Math.round(due - start));
      outcomes[label] = (outcomes[label] ?? 0) + 1;
      lastReply = t1;
      answered++;
      if (answered === sent && (sent === total || exhausted || overloaded)) allAnswered();
    });
  };

  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      while (sent < total && start + sent * interval <= now) {
        if (sent - answered >= maxInFlight) {
          overloaded = true;
          break;
        }
        const job = opts.next(sent);
        if (job === undefined) {
          exhausted = true;
          break;
        }
        fire(start + sent * interval, job);
        sent++;
      }
      if (sent >= total || exhausted || overloaded) {
        resolve();
        return;
      }
      // Node timers have ~1 ms granularity: sends are due every `interval` ms and are caught up in batches.
      setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
    };
    tick();
  });
  if (answered === sent) allAnswered();
  await Promise.race([done, sleep(opts.drainTimeoutMs ?? 10_000)]);
  const abandoned = sent - answered;
  if (abandoned > 0) outcomes['abandoned (no reply before drain timeout)'] = abandoned;
  const unsent = overloaded ? total - sent : 0;
  if (unsent > 0) outcomes[`not sent (stopped: ${maxInFlight} requests awaiting replies)`] = unsent;
  const base = finish(
    opts.name,
    start,
    Math.max(lastReply, start),
    sent + unsent,
    outcomes,
    opts.expect,
    exhausted,
    latency,
  );
  return {
    ...base,
    targetRate: opts.rate,
    serviceLatencyMs: service.summary(),
    sendLagMs: sendLag.summary(),
    abandoned,
    overloaded,
    startedAtMs,
    slow: { thresholdMs: slowMs, dueAtMs: slowDue.sort((a, b) => a - b) },
  };
}

function finish(
  name: string,
  start: number,
  end: number,
  requests: number,
  outcomes: Record<string, number>,
  expect: string,
  exhausted: boolean,
  latency: LatencyRecorder,
): PhaseResult {
  const durationS = Math.max(1e-9, (end - start) / 1000);
  const ok = outcomes[expect] ?? 0;
  return {
    name,
    durationS,
    requests,
    ok,
    errors: requests - ok,
    throughput: ok / durationS,
    outcomes,
    exhausted,
    latencyMs: latency.summary(),
  };
}
