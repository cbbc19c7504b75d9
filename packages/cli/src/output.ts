/**
 * Where a command writes. Commands never touch process.stdout directly, so
 * tests can run them in-process and read what a user would have seen.
 */
export interface Output {
  /** A line of results on stdout. */
  out(line?: string): void;
  /** A line of diagnostics on stderr (warnings, errors, progress of streamed data). */
  err(line: string): void;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  /** ANSI colours allowed on stdout. */
  readonly color: boolean;
  readonly columns: number;
}

export interface OutputStreams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdoutIsTTY?: boolean;
  stderrIsTTY?: boolean;
  color?: boolean;
  columns?: number;
}

export function createOutput(s: OutputStreams): Output {
  return {
    out: (line = '') => void s.stdout.write(line + '\n'),
    err: (line) => void s.stderr.write(line + '\n'),
    stdout: s.stdout,
    stderr: s.stderr,
    stdoutIsTTY: s.stdoutIsTTY ?? false,
    stderrIsTTY: s.stderrIsTTY ?? false,
    color: s.color ?? false,
    columns: s.columns ?? 80,
  };
}

/** https://no-color.org: any non-empty NO_COLOR wins; FORCE_COLOR forces colour into pipes. */
export function colorEnabled(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true;
  return isTTY && env.TERM !== 'dumb';
}

export function processOutput(env: NodeJS.ProcessEnv = process.env): Output {
  const stdoutIsTTY = process.stdout.isTTY === true;
  return createOutput({
    stdout: process.stdout,
    stderr: process.stderr,
    stdoutIsTTY,
    stderrIsTTY: process.stderr.isTTY === true,
    color: colorEnabled(env, stdoutIsTTY),
    columns: process.stdout.columns ?? 80,
  });
}
