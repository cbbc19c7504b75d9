import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { CliError } from './errors.ts';

/** The reader went away (`entrada tickets export | head`): stop quietly, as Unix tools do. */
export class ReaderGoneError extends Error {}

/** Writes text with backpressure, so exporting a million tickets does not buffer them all in memory. */
export class TextWriter {
  private failure: Error | null = null;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly name: string,
    private readonly owned: boolean,
  ) {
    stream.on('error', (err: Error) => {
      this.failure = err;
    });
  }

  async write(text: string): Promise<void> {
    this.check();
    if (!this.stream.write(text)) await settled(this.stream, 'drain');
    this.check();
  }

  async close(): Promise<void> {
    if (!this.owned) return;
    this.stream.end();
    await settled(this.stream, 'finish');
    this.check();
  }

  private check(): void {
    if ((this.failure as NodeJS.ErrnoException | null)?.code === 'EPIPE')
      throw new ReaderGoneError('reader closed the pipe');
    if (this.failure) throw new CliError(`cannot write ${this.name}: ${this.failure.message}`);
  }
}

/** Waits for `event` or an error, whichever comes first, without leaving a listener behind. */
async function settled(stream: NodeJS.WritableStream, event: string): Promise<void> {
  const abort = new AbortController();
  try {
    await Promise.race([
      once(stream, event, { signal: abort.signal }),
      once(stream, 'error', { signal: abort.signal }),
    ]);
  } catch {
    // The error itself is recorded by the constructor's listener and reported by check().
  } finally {
    abort.abort();
  }
}

export async function openFileWriter(file: string): Promise<TextWriter> {
  const stream = createWriteStream(file, { encoding: 'utf8' });
  try {
    await once(stream, 'open');
  } catch (err) {
    throw new CliError(`cannot write ${file}: ${(err as Error).message}`);
  }
  return new TextWriter(stream, file, true);
}
