import type { FastifyInstance } from 'fastify';
import type { FetchLike } from '../../src/http.ts';
import type { Prng } from '../../src/prng.ts';
import type { Scheduler } from './virtual-time.ts';

export const SIM_BASE_URL = 'http://entrada.sim';

export type Fate = 'deliver' | 'refused' | 'drop_request' | 'drop_response' | 'duplicate' | 'delay';

export interface FaultRates {
  refused: number;
  dropRequest: number;
  dropResponse: number;
  duplicate: number;
  delay: number;
  /** Late deliveries land this far in the virtual future (ms). */
  maxDelayMs: number;
}

export const DEFAULT_FAULTS: FaultRates = {
  refused: 0.04,
  dropRequest: 0.06,
  dropResponse: 0.08,
  duplicate: 0.06,
  delay: 0.08,
  maxDelayMs: 4_000,
};

type Response = Awaited<ReturnType<FetchLike>>;

export interface TraceEntry {
  t: number;
  device: number;
  method: string;
  path: string;
  fate: Fate | 'partitioned';
  status?: number;
}

/**
 * The simulated network between the devices and the server (Fastify's
 * `inject`, no sockets). Per request and per the seed it delivers, refuses
 * the connection, loses the request, loses the response after the server
 * committed, delivers the request twice, or delivers it later on the virtual
 * timeline (which also reorders it behind later requests). A device can be
 * partitioned off for a window. Every in-flight server call is tracked, so the
 * simulation can wait until the system is quiet before moving time.
 */
export class Network {
  perfect = false;
  readonly trace: TraceEntry[] = [];
  private readonly partitions = new Map<number, number>();
  private readonly inflight = new Set<Promise<unknown>>();
  /** Requests a client is still waiting for (not settled, not aborted by its timeout). */
  outstanding = 0;
  /** Directed scenarios: force a request's fate (and delay) instead of drawing it. */
  script: ((device: number, path: string) => { fate: Fate; delayMs?: number } | null) | null = null;
  /** Called with every response a live device actually received. */
  onResponse: ((device: number, path: string, status: number, body: string) => void) | null = null;

  constructor(
    /** Read per request: the server may have restarted since. */
    private readonly app: () => FastifyInstance,
    private readonly sched: Scheduler,
    private readonly rng: Prng,
    private readonly faults: FaultRates = DEFAULT_FAULTS,
  ) {}

  partition(device: number, untilT: number): void {
    this.partitions.set(device, Math.max(untilT, this.partitions.get(device) ?? 0));
  }
  isPartitioned(device: number): boolean {
    return !this.perfect && (this.partitions.get(device) ?? 0) > this.sched.now();
  }
  healAll(): void {
    this.perfect = true;
    this.partitions.clear();
  }

  /** Server calls still running (their commits may be in progress). */
  get busy(): number {
    return this.inflight.size;
  }
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private pickFate(): Fate {
    if (this.perfect) return 'deliver';
    const f = this.faults;
    let x = this.rng.next();
    for (const [fate, p] of [
      ['refused', f.refused],
      ['drop_request', f.dropRequest],
      ['drop_response', f.dropResponse],
      ['duplicate', f.duplicate],
      ['delay', f.delay],
    ] as const) {
      if (x < p) return fate;
      x -= p;
    }
    return 'deliver';
  }

  /** The server sees the request now (on the shared clock). */
  private deliver(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<Response> {
    const p = this.app()
      .inject({
        method: method as 'GET' | 'POST',
        url: path,
        headers,
        ...(body !== undefined ? { payload: body } : {}),
      })
      .then((r) => {
        const text = r.payload;
        const h = r.headers;
        return {
          status: r.statusCode,
          headers: {
            get: (n: string) => {
              const v = h[n.toLowerCase()];
              return v === undefined ? null : String(v);
            },
          },
          text: async () => text,
        };
      });
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  /** The fetch of one device incarnation; `alive` turns false when it crashes. */
  fetchFor(device: number, alive: () => boolean): FetchLike {
    return (url, init) => {
      const path = url.startsWith(SIM_BASE_URL) ? url.slice(SIM_BASE_URL.length) : url;
      const headers = { ...init.headers };
      const forced = this.perfect ? null : (this.script?.(device, path) ?? null);
      const fate: Fate | 'partitioned' = forced
        ? forced.fate
        : this.isPartitioned(device)
          ? 'partitioned'
          : this.pickFate();
      const entry: TraceEntry = {
        t: this.sched.now(),
        device,
        method: init.method,
        path: path.replace(/\?.*$/, ''),
        fate,
      };
      this.trace.push(entry);
      if (fate === 'partitioned' || fate === 'refused') return Promise.reject(new TypeError(`fetch failed (${fate})`));

      this.outstanding++;
      let settled = false;
      const done = (): void => {
        if (!settled) {
          settled = true;
          this.outstanding--;
        }
      };
      // The client gave up (its timeout): nobody waits for this request any more.
      init.signal.addEventListener('abort', done);
      const seen = (r: Response): Response => {
        entry.status = r.status;
        if (alive() && !init.signal.aborted)
          void r.text().then((t) => this.onResponse?.(device, entry.path, r.status, t));
        return r;
      };
      const hang = new Promise<Response>((_, reject) =>
        init.signal.addEventListener('abort', () => reject(new Error('aborted'))),
      );
      void hang.catch(() => undefined);

      const run = async (): Promise<Response> => {
        switch (fate) {
          case 'drop_request':
            return hang;
          case 'drop_response':
            await this.deliver(init.method, path, headers, init.body);
            return hang;
          case 'duplicate': {
            const first = await this.deliver(init.method, path, headers, init.body);
            // The copy arrives a little later, maybe after the device's next request.
            const later = this.rng.int(0, this.faults.maxDelayMs);
            this.sched.at(this.sched.now() + later, () => {
              void this.deliver(init.method, path, headers, init.body).catch(() => undefined);
            });
            return first;
          }
          case 'delay': {
            const later = forced?.delayMs ?? this.rng.int(1, this.faults.maxDelayMs);
            return new Promise<Response>((resolve, reject) => {
              this.sched.at(this.sched.now() + later, () => {
                this.deliver(init.method, path, headers, init.body).then(resolve, reject);
              });
            });
          }
          default:
            return this.deliver(init.method, path, headers, init.body);
        }
      };
      const p = run().then(seen);
      void p.then(done, done);
      return p;
    };
  }
}
