/**
 * What a database's connections are running, sampled from pg_stat_activity:
 * like postgres.ts's sampleActivity, but keyed by statement too, so a phase
 * shows which statement PostgreSQL spends its (wall) time in and what it waits
 * for. Works without pg_stat_statements (which needs a server restart to load).
 */
import pg from 'pg';

export interface QuerySampleSummary {
  samples: number;
  /** Average connections per sample in each state ("active (cpu)", "active: Lock/transactionid", "idle", "idle in transaction"...). */
  byState: Record<string, number>;
  /** Active connections only, by statement (first words, whitespace collapsed) and wait: average per sample and share of all active samples. */
  byStatement: Array<{ statement: string; wait: string; avgConnections: number; share: number }>;
  /** Active and not waiting (on CPU, as far as PostgreSQL knows), by statement: where PostgreSQL's CPU goes. */
  cpuByStatement: Array<{ statement: string; avgConnections: number; share: number }>;
}

function shorten(q: string, max = 72): string {
  return q.replace(/\s+/g, ' ').trim().slice(0, max);
}

export function sampleQueries(
  adminUrl: string,
  database: string,
  everyMs = 20,
): { stop(): Promise<QuerySampleSummary> } {
  const states = new Map<string, number>();
  const statements = new Map<string, { statement: string; wait: string; n: number }>();
  let samples = 0;
  let active = 0;
  let running = true;
  const client = new pg.Client({ connectionString: adminUrl });
  const loop = (async () => {
    await client.connect();
    while (running) {
      const rows = (
        await client.query<{
          state: string | null;
          wait_event_type: string | null;
          wait_event: string | null;
          query: string;
        }>(
          `SELECT state, wait_event_type, wait_event, left(query, 200) AS query FROM pg_stat_activity
         WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
          [database],
        )
      ).rows;
      samples++;
      for (const r of rows) {
        const wait = r.wait_event ? `${r.wait_event_type}/${r.wait_event}` : 'cpu';
        const state =
          r.state === 'active' ? (r.wait_event ? `active: ${wait}` : 'active (cpu)') : (r.state ?? 'unknown');
        states.set(state, (states.get(state) ?? 0) + 1);
        if (r.state !== 'active') continue;
        active++;
        const statement = shorten(r.query);
        const key = `${statement}\0${wait}`;
        const e = statements.get(key) ?? { statement, wait, n: 0 };
        e.n++;
        statements.set(key, e);
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })().catch(() => undefined);
  return {
    async stop() {
      running = false;
      await loop;
      await client.end().catch(() => undefined);
      const per = (n: number): number => Math.round((n / Math.max(1, samples)) * 100) / 100;
      const onCpu = [...statements.values()].filter((e) => e.wait === 'cpu');
      const cpuTotal = onCpu.reduce((a, e) => a + e.n, 0);
      return {
        samples,
        cpuByStatement: onCpu
          .sort((a, b) => b.n - a.n)
          .slice(0, 12)
          .map((e) => ({
            statement: e.statement,
            avgConnections: per(e.n),
            share: Math.round((e.n / Math.max(1, cpuTotal)) * 1000) / 10,
          })),
        byState: Object.fromEntries([...states].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, per(v)])),
        byStatement: [...statements.values()]
          .sort((a, b) => b.n - a.n)
          .slice(0, 15)
          .map((e) => ({
            statement: e.statement,
            wait: e.wait,
            avgConnections: per(e.n),
            share: Math.round((e.n / Math.max(1, active)) * 1000) / 10,
          })),
      };
    },
  };
}
