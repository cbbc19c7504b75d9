import type { DecodeReply, DecodeRequest } from './decoder-protocol.ts';

/** Finds a QR code in one camera frame. */
export interface FrameDecoder {
  readonly kind: 'native' | 'zxing';
  decode(source: HTMLVideoElement): Promise<{ text: string | null; ms: number }>;
  close(): void;
}

interface BarcodeDetectorLike {
  detect(source: CanvasImageSource): Promise<Array<{ rawValue: string }>>;
}
interface BarcodeDetectorCtor {
  new (options: { formats: string[] }): BarcodeDetectorLike;
  getSupportedFormats(): Promise<string[]>;
}

/** The longest side a frame is scaled to before decoding: a QR filling a third of a 640 px frame decodes reliably and fast. */
const MAX_SIDE = 640;

/**
 * The platform's BarcodeDetector where it reads QR codes (Android Chrome, which
 * does it in hardware-accelerated native code), otherwise zxing-cpp compiled to
 * WebAssembly in a worker so decoding never blocks the verdict screen.
 */
export async function createDecoder(): Promise<FrameDecoder> {
  const Native = (globalThis as { BarcodeDetector?: BarcodeDetectorCtor }).BarcodeDetector;
  if (Native && new URLSearchParams(location.search).get('decoder') !== 'zxing') {
    try {
      if ((await Native.getSupportedFormats()).includes('qr_code'))
        return nativeDecoder(new Native({ formats: ['qr_code'] }));
    } catch {
      /* fall back to zxing */
    }
  }
  return zxingDecoder();
}

function nativeDecoder(detector: BarcodeDetectorLike): FrameDecoder {
  return {
    kind: 'native',
    async decode(video) {
      const started = performance.now();
      const found = await detector.detect(video).catch(() => []);
      return { text: found[0]?.rawValue ?? null, ms: performance.now() - started };
    },
    close() {},
  };
}

function zxingDecoder(): FrameDecoder {
  const worker = new Worker(new URL('./decoder.worker.ts', import.meta.url), { type: 'module' });
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const waiting = new Map<number, (r: DecodeReply) => void>();
  let nextId = 1;
  worker.onmessage = (e: MessageEvent<DecodeReply>) => {
    waiting.get(e.data.id)?.(e.data);
    waiting.delete(e.data.id);
  };
  return {
    kind: 'zxing',
    decode(video) {
      const vw = video.videoWidth;
      const vh = video.videoHeight;
      if (!ctx || vw === 0 || vh === 0) return Promise.resolve({ text: null, ms: 0 });
      const scale = Math.min(1, MAX_SIDE / Math.max(vw, vh));
      const width = Math.round(vw * scale);
      const height = Math.round(vh * scale);
      if (canvas.width !== width) canvas.width = width;
      if (canvas.height !== height) canvas.height = height;
      ctx.drawImage(video, 0, 0, width, height);
      const { data } = ctx.getImageData(0, 0, width, height);
      const id = nextId++;
      const request: DecodeRequest = { id, width, height, pixels: data.buffer };
      return new Promise((resolve) => {
        waiting.set(id, (r) => resolve({ text: r.text, ms: r.ms }));
        worker.postMessage(request, [data.buffer]);
      });
    },
    close() {
      worker.terminate();
      waiting.clear();
    },
  };
}
