import cliProgress from 'cli-progress';
import { count } from './format.ts';
import type { Output } from './output.ts';

export interface Progress {
  update(done: number): void;
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  unit: string;
  /** null when the total is not known in advance (export). */
  total: number | null;
  to: 'stdout' | 'stderr';
}

/**
 * A live bar on a terminal; in a pipe or a CI log, a plain line every ~10%
 * instead, because redraw sequences turn logs into noise.
 */
export function startProgress(output: Output, opts: ProgressOptions): Progress {
  const tty = opts.to === 'stdout' ? output.stdoutIsTTY : output.stderrIsTTY;
  return tty ? barProgress(output, opts) : lineProgress(output, opts);
}

function barProgress(output: Output, opts: ProgressOptions): Progress {
  const started = Date.now();
  const format =
    opts.total === null
      ? `${opts.label} {value} ${opts.unit} | {rate}`
      : `${opts.label} [{bar}] {percentage}% | {value}/{total} ${opts.unit} | {rate} | ETA {eta_formatted}`;
  const bar = new cliProgress.SingleBar(
    {
      format,
      stream: opts.to === 'stdout' ? output.stdout : output.stderr,
      hideCursor: true,
      barsize: 30,
      formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? count(v) : String(v)),
    },
    cliProgress.Presets.shades_classic,
  );
  const rate = (done: number): string => `${count(Math.round((done / Math.max(Date.now() - started, 1)) * 1000))}/s`;
  bar.start(opts.total ?? 0, 0, { rate: rate(0) });
  let stopped = false;
  return {
    update: (done) => bar.update(done, { rate: rate(done) }),
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}

function lineProgress(output: Output, opts: ProgressOptions): Progress {
  const say = opts.to === 'stdout' ? output.out : output.err;
  let nextTenth = 1;
  return {
    update(done) {
      if (opts.total === null || opts.total === 0) return;
      const tenth = Math.floor((done / opts.total) * 10);
      if (tenth < nextTenth) return;
      nextTenth = tenth + 1;
      say(`${opts.label} ${Math.min(100, tenth * 10)}% (${count(done)}/${count(opts.total)} ${opts.unit})`);
    },
    stop() {},
  };
}
