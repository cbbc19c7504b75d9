import { machineBusyNow } from './cpu.ts';

/**
 * What every benchmark script needs around its main(): a timestamped log on
 * stderr, clean-up steps that run whatever happens (Ctrl-C, SIGTERM, a
 * watchdog, an exception), and the exit code.
 */
export interface RunControl {
  log(msg: string): void;
  /** Clean-up steps, run last-in first-out. */
  cleanups: Array<() => Promise<void>>;
  /** Seconds since the script started. */
  elapsedS(): number;
  /** Aborts (with clean-up) if the run takes longer than watchdogMs from now. */
  armWatchdog(): void;
  /** Runs main, cleans up, and exits the process. */
  run(main: () => Promise<void>): Promise<never>;
}

export function createRunControl(opts: { watchdogMs: number }): RunControl {
  const t0 = Date.now();
  const elapsedS = (): number => (Date.now() - t0) / 1000;
  const log = (msg: string): void => {
    process.stderr.write(`[${elapsedS().toFixed(1).padStart(6)}s] ${msg}\n`);
  };
  const cleanups: Array<() => Promise<void>> = [];
  const cleanUp = async (): Promise<void> => {
    while (cleanups.length > 0) {
      const fn = cleanups.pop()!;
      await fn().catch((err: unknown) => log(`clean-up step failed: ${String(err)}`));
    }
  };
  let aborting = false;
  const abort = async (reason: string, code: number): Promise<never> => {
    if (!aborting) {
      aborting = true;
      log(reason);
      await cleanUp();
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void abort('interrupted: cleaning up', 130));
  process.on('SIGTERM', () => void abort('terminated: cleaning up', 143));
  return {
    log,
    cleanups,
    elapsedS,
    armWatchdog() {
      setTimeout(
        () => void abort(`watchdog: the benchmark exceeded ${opts.watchdogMs / 60_000} minutes`, 1),
        opts.watchdogMs,
      ).unref();
    },
    async run(main) {
      try {
        await main();
      } catch (err) {
        log(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        process.exitCode = 1;
      } finally {
        await cleanUp();
      }
      process.exit(process.exitCode ?? 0);
    },
  };
}

/**
 * On a shared machine, waits (at most maxMs) until nothing else keeps the CPU
 * busy: `consecutive` samples in a row under `threshold` cores. Returns the
 * last sample.
 */
export async function waitQuiet(opts: {
  maxMs: number;
  sampleMs: number;
  consecutive: number;
  threshold?: number;
  log?: (msg: string) => void;
}): Promise<number> {
  const threshold = opts.threshold ?? 0.3;
  const deadline = Date.now() + opts.maxMs;
  let quiet = 0;
  let busy = await machineBusyNow(opts.sampleMs);
  for (;;) {
    quiet = busy < threshold ? quiet + 1 : 0;
    if (quiet >= opts.consecutive || Date.now() >= deadline) return busy;
    if (quiet === 0) opts.log?.(`waiting for a quiet machine: ${busy.toFixed(2)} cores busy`);
    busy = await machineBusyNow(opts.sampleMs);
  }
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
