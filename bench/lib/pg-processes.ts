/**
 * A CPU-accounting group (bench/lib/cpu.ts) for one database's share of a
 * PostgreSQL server: the backends connected to that database plus the
 * server's shared background processes (checkpointer, WAL writer, background
 * writer...), but not the backends of other databases. On a machine where
 * something else uses the same PostgreSQL (a test suite, another benchmark),
 * their backends then show up as "other" instead of inflating "postgres".
 */
import { readFileSync, readdirSync } from 'node:fs';
import type { ProcessGroup } from './cpu.ts';

export function postgresGroupFor(database: string): ProcessGroup {
  return {
    pids: () => {
      const out: number[] = [];
      let entries: string[] = [];
      try {
        entries = readdirSync('/proc');
      } catch {
        return out;
      }
      for (const entry of entries) {
        if (!/^\d+$/.test(entry)) continue;
        try {
          if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
          // A backend's title is "postgres: <cluster>: <user> <database> <host>(<port>) <state>"; background processes have no host.
          const title = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
          const backend = /^postgres: (?:[^:]+: )?\S+ (\S+) (?:\[local\]|[\d.:a-f]+\(\d+\))/.exec(title);
          if (!backend || backend[1] === database) out.push(Number(entry));
        } catch {
          // The process ended while we looked.
        }
      }
      return out;
    },
  };
}
