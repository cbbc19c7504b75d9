/**
 * Who used the CPU during a phase (Linux /proc): the machine as a whole and
 * named groups of processes (the server child, this load generator, every
 * `postgres` process...). Figures are in cores: 1.0 = one core fully busy.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

let hz = 100;
try {
  hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // 100 is the value on every common Linux build.
}

/** A process group: fixed pids, or every process whose command name matches. */
export type ProcessGroup = { pids: () => number[] };

export function pidGroup(...pids: number[]): ProcessGroup {
  return { pids: () => pids };
}

export function commandGroup(comm: string): ProcessGroup {
  return {
    pids: () => {
      const out: number[] = [];
      for (const entry of safeReaddir('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        try {
          if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) out.push(Number(entry));
        } catch {
          // The process ended while we looked.
        }
      }
      return out;
    },
  };
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** utime + stime of one process, in clock ticks (0 when it is gone). */
function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function machineTicks(): { busy: number; steal: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const steal = v[7] ?? 0;
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle - steal, steal, total };
  } catch {
    return { busy: 0, steal: 0, total: 0 };
  }
}

export interface CpuUsage {
  seconds: number;
  cores: number;
  /** Busy cores of the whole machine (everything, this benchmark or not). */
  machineBusy: number;
  /** Cores' worth of time the hypervisor gave to other guests (a virtual machine's "steal"). */
  steal: number;
  /** Each group's CPU, in cores. */
  groups: Record<string, number>;
  /** machineBusy minus the groups: other processes and the kernel's own work. */
  other: number;
}

/** Starts a measurement now; `stop()` returns the usage since. */
export function measureCpu(groups: Record<string, ProcessGroup>): { stop(): CpuUsage } {
  const snap = (): {
    at: number;
    machine: { busy: number; steal: number; total: number };
    per: Map<string, Map<number, number>>;
  } => {
    const per = new Map<string, Map<number, number>>();
    for (const [name, g] of Object.entries(groups))
      per.set(name, new Map(g.pids().map((pid) => [pid, processTicks(pid)])));
    return { at: performance.now(), machine: machineTicks(), per };
  };
  const a = snap();
  return {
    stop() {
      const b = snap();
      const seconds = (b.at - a.at) / 1000;
      const cores = os.availableParallelism();
      const totalTicks = b.machine.total - a.machine.total;
      const machineBusy = totalTicks > 0 ? ((b.machine.busy - a.machine.busy) / totalTicks) * cores : 0;
      const steal = totalTicks > 0 ? ((b.machine.steal - a.machine.steal) / totalTicks) * cores : 0;
      const out: Record<string, number> = {};
      let sum = 0;
      for (const [name, now] of b.per) {
        const before = a.per.get(name)!;
        let ticks = 0;
        // Processes born during the phase count from zero; ones that ended are lost (short-lived only).
        for (const [pid, t] of now) ticks += t - (before.get(pid) ?? 0);
        const c = ticks / hz / seconds;
        out[name] = round2(c);
        sum += c;
      }
      return {
        seconds: round2(seconds),
        cores,
        machineBusy: round2(machineBusy),
        steal: round2(steal),
        groups: out,
        other: round2(Math.max(0, machineBusy - sum)),
      };
    },
  };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Busy cores over a short window: tells whether something else is loading the machine before we start. */
export async function machineBusyNow(windowMs = 1000): Promise<number> {
  const m = measureCpu({});
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  return m.stop().machineBusy;
}
