import { recordDecode } from './decode-stats.ts';
import { createDecoder, type FrameDecoder } from './decoder.ts';

export interface CameraRead {
  text: string;
  capturedAt: number;
  decodeMs: number;
}

export type CameraState = 'off' | 'starting' | 'scanning' | 'paused' | 'denied' | 'unavailable';

/** Frames per second decoded while scanning: enough to feel instant, low enough to spare a cheap phone's battery. */
const DECODE_INTERVAL_MS = 80;

/**
 * The camera as a code source: a continuous decode loop with one frame in flight
 * at a time, released entirely (camera light off) when paused — when the app is
 * hidden, or after `idleMs` without a read, until the steward taps.
 */
export class CameraReader {
  private stream: MediaStream | null = null;
  private decoder: FrameDecoder | null = null;
  private timer: number | null = null;
  private idleTimer: number | null = null;
  private state: CameraState = 'off';
  private kind: string | null = null;

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly onRead: (read: CameraRead) => void,
    private readonly onState: (state: CameraState) => void,
    private readonly idleMs = 120_000,
  ) {}

  async start(): Promise<void> {
    if (this.state === 'scanning' || this.state === 'starting') return;
    this.setState('starting');
    if (!navigator.mediaDevices?.getUserMedia) {
      this.setState('unavailable');
      return;
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
    } catch (err) {
      this.setState(err instanceof DOMException && err.name === 'NotAllowedError' ? 'denied' : 'unavailable');
      return;
    }
    this.video.srcObject = this.stream;
    this.video.muted = true;
    this.video.playsInline = true;
    await this.video.play().catch(() => undefined);
    this.decoder ??= await createDecoder();
    this.kind = this.decoder.kind;
    this.setState('scanning');
    this.touch();
    this.loop();
  }

  /** Stops the camera but keeps the decoder warm for a quick resume. */
  pause(): void {
    this.release();
    if (this.state !== 'off') this.setState('paused');
  }

  stop(): void {
    this.release();
    this.decoder?.close();
    this.decoder = null;
    this.setState('off');
  }

  get decoderKind(): string | null {
    return this.kind;
  }

  /** Any activity (a read, a tap) postpones the idle pause. */
  touch(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = window.setTimeout(() => this.pause(), this.idleMs);
  }

  private loop(): void {
    if (this.state !== 'scanning' || !this.decoder) return;
    const capturedAt = performance.now();
    void this.decoder.decode(this.video).then((r) => {
      if (this.state !== 'scanning') return;
      if (r.ms > 0) recordDecode(r.ms);
      if (r.text) {
        performance.measure('entrada:decode', { start: capturedAt, duration: r.ms });
        this.touch();
        this.onRead({ text: r.text, capturedAt, decodeMs: r.ms });
      }
      const spent = performance.now() - capturedAt;
      this.timer = window.setTimeout(() => this.loop(), Math.max(0, DECODE_INTERVAL_MS - spent));
    });
  }

  private release(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.timer = null;
    this.idleTimer = null;
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = null;
    this.video.srcObject = null;
  }

  private setState(s: CameraState): void {
    this.state = s;
    this.onState(s);
  }
}
