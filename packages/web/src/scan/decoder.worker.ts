/// <reference lib="webworker" />
import { prepareZXingModule, readBarcodes } from 'zxing-wasm/reader';
import wasmUrl from 'zxing-wasm/reader/zxing_reader.wasm?url';
import type { DecodeReply, DecodeRequest } from './decoder-protocol.ts';

// zxing-wasm fetches its WebAssembly from a CDN unless told otherwise: point it at our own copy (precached by the service worker).
// Compiled at once (fireImmediately) so the first frame does not pay for it.
void prepareZXingModule({
  overrides: { locateFile: (path: string, prefix: string) => (path.endsWith('.wasm') ? wasmUrl : prefix + path) },
  fireImmediately: true,
});

const scope = self as unknown as DedicatedWorkerGlobalScope;

scope.onmessage = async (e: MessageEvent<DecodeRequest>) => {
  const { id, width, height, pixels } = e.data;
  const started = performance.now();
  let text: string | null = null;
  try {
    const image = new ImageData(new Uint8ClampedArray(pixels), width, height);
    const found = await readBarcodes(image, { formats: ['QRCode'], tryHarder: true, maxNumberOfSymbols: 1 });
    text = found.find((r) => r.isValid)?.text ?? null;
  } catch {
    text = null;
  }
  const reply: DecodeReply = { id, text, ms: performance.now() - started };
  scope.postMessage(reply);
};
