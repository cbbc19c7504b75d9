/**
 * Organisers' dashboards for bench:live, in a process of their own.
 *
 * Reading 50 live streams means parsing every `scan` message 50 times (a flush of 200 scans is ~60 kB of JSON,
 * five flushes a second). Done in the load generator's process, that parsing stalled its event loop for ~10 ms
 * after every flush, and the stall was counted as scanning latency: the benchmark measured itself. Here the
 * dashboards run in a child process (their own event loop, as browsers on other machines have), so the
 * scanning latency measured with them is what the server's streams cost. Their CPU still competes for the same
 * cores as the server and PostgreSQL, which makes the comparison harsher than a deployment, not kinder.
 *
 * Parent: `openDashboards(...)` forks this file, waits until every stream has its snapshot, and `stop()` returns
 * each listed scan's delivery delay (arrival minus the server's `received_at`; same machine, same clock) and the
 * fewest scans a dashboard heard of.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';

interface Setup {
  url: string;
  path: string;
  token: string;
  count: number;
}
type ToChild = { type: 'stop' };
type FromChild =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'result'; delays: number[]; minScans: number; minListed: number; messages: number };

export interface DashboardsResult {
  /** Each listed scan's delivery delay, ms. */
  delays: number[];
  /** The fewest scans a dashboard heard of (listed or counted in `omitted`), and the fewest it listed. */
  minScans: number;
  minListed: number;
  messages: number;
}

export interface Dashboards {
  stop(): Promise<DashboardsResult>;
}

/** Forks the dashboards' process and resolves once all `count` streams are open. */
export async function openDashboards(setup: Setup): Promise<Dashboards> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_DASHBOARDS: JSON.stringify(setup) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = (): Promise<FromChild> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`dashboards' process exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (m) => {
        child.off('exit', onExit);
        resolve(m as FromChild);
      });
    });
  const first = await next();
  if (first.type !== 'ready') {
    child.kill();
    throw new Error(`dashboards: ${first.type === 'failed' ? first.message : first.type}`);
  }
  return {
    async stop() {
      const answer = next();
      child.send({ type: 'stop' } satisfies ToChild);
      const m = await answer;
      child.kill();
      if (m.type !== 'result') throw new Error(`dashboards: unexpected ${m.type}`);
      return m;
    },
  };
}

/** One organiser's dashboard: its own connection, every message parsed, each scan's delivery delay recorded. */
class Dashboard {
  private readonly client: Client;
  /** Scans listed, and scans a message counted without listing them (past its cap: the newest are listed). */
  scans = 0;
  omitted = 0;
  messages = 0;
  constructor(
    url: string,
    private readonly path: string,
    private readonly token: string,
    private readonly delays: number[],
  ) {
    this.client = new Client(url, { bodyTimeout: 0, headersTimeout: 30_000 });
  }
  async open(): Promise<void> {
    const res = await this.client.request({
      method: 'GET',
      path: this.path,
      headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' },
    });
    if (res.statusCode !== 200) throw new Error(`live stream: ${res.statusCode} ${await res.body.text()}`);
    let buf = '';
    res.body.setEncoding('utf8');
    res.body.on('data', (chunk: string) => {
      const now = Date.now();
      buf += chunk;
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        if (block.startsWith('id: ')) this.messages++;
        if (!block.includes('event: scan\n')) continue;
        const data = block.slice(block.indexOf('data: ') + 6);
        const { scans, omitted } = JSON.parse(data) as { scans: Array<{ received_at: number }>; omitted: number };
        for (const s of scans) this.delays.push(now - s.received_at);
        this.scans += scans.length;
        this.omitted += omitted;
      }
    });
    res.body.on('error', () => undefined);
  }
  close(): Promise<void> {
    return this.client.destroy().catch(() => undefined);
  }
}

async function runChild(setup: Setup): Promise<void> {
  const delays: number[] = [];
  const dashboards: Dashboard[] = [];
  try {
    for (let i = 0; i < setup.count; i++) {
      const d = new Dashboard(setup.url, setup.path, setup.token, delays);
      await d.open();
      dashboards.push(d);
    }
    // Every dashboard has had its snapshot before the phase starts.
    await new Promise((r) => setTimeout(r, 1_000));
  } catch (err) {
    process.send!({ type: 'failed', message: String(err) } satisfies FromChild);
    return;
  }
  process.send!({ type: 'ready' } satisfies FromChild);
  process.once('message', (m: ToChild) => {
    if (m.type !== 'stop') return;
    const result: FromChild = {
      type: 'result',
      delays,
      minScans: Math.min(...dashboards.map((d) => d.scans + d.omitted)),
      minListed: Math.min(...dashboards.map((d) => d.scans)),
      messages: dashboards.reduce((n, d) => n + d.messages, 0),
    };
    void Promise.all(dashboards.map((d) => d.close())).then(() => process.send!(result));
  });
}

if (process.env.BENCH_DASHBOARDS && process.send) {
  // The benchmark went away (it failed or was stopped): so do its dashboards.
  process.on('disconnect', () => process.exit(0));
  void runChild(JSON.parse(process.env.BENCH_DASHBOARDS) as Setup);
}
