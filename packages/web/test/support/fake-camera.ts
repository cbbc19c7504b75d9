import { openSync, writeSync, closeSync } from 'node:fs';
import QRCode from 'qrcode';

/** One grey frame (luma plane) with the QR code of `text` on a white card in the middle. */
function qrFrame(text: string, width: number, height: number): Uint8Array {
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const size = qr.modules.size;
  const quiet = 4;
  const cell = Math.floor((Math.min(width, height) * 0.9) / (size + 2 * quiet));
  const side = cell * (size + 2 * quiet);
  const left = Math.floor((width - side) / 2);
  const top = Math.floor((height - side) / 2);
  const card = new Uint8Array(width * height).fill(110);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const mx = Math.floor(x / cell) - quiet;
      const my = Math.floor(y / cell) - quiet;
      const dark = mx >= 0 && my >= 0 && mx < size && my < size && qr.modules.get(my, mx) === 1;
      card[(top + y) * width + left + x] = dark ? 0 : 255;
    }
  }
  return card;
}

type VideoOptions = { width?: number; height?: number; fps?: number; showSeconds?: number; blankSeconds?: number };

/** Writes YUV 4:2:0 frames (grey chroma): each segment is a still luma plane held for some seconds. */
function writeY4m(
  path: string,
  width: number,
  height: number,
  fps: number,
  segments: ReadonlyArray<readonly [seconds: number, luma: Uint8Array]>,
): void {
  const chroma = new Uint8Array((width / 2) * (height / 2) * 2).fill(128);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, `YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`);
    for (const [seconds, luma] of segments) {
      for (let i = 0; i < Math.round(seconds * fps); i++) {
        writeSync(fd, 'FRAME\n');
        writeSync(fd, luma);
        writeSync(fd, chroma);
      }
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * A Y4M video for Chromium's fake camera (`--use-file-for-fake-video-capture`):
 * the QR code of `text` on a white card for `showSeconds`, then an empty grey
 * scene for `blankSeconds`. Chromium replays the file from the start each time
 * the camera opens, so every camera start reads the code once and then sees
 * nothing — like a ticket shown and taken away.
 */
export function writeQrVideo(path: string, text: string, opts: VideoOptions = {}): void {
  const width = opts.width ?? 480;
  const height = opts.height ?? 360;
  const blank = new Uint8Array(width * height).fill(110);
  writeY4m(path, width, height, opts.fps ?? 4, [
    [opts.showSeconds ?? 1.5, qrFrame(text, width, height)],
    [opts.blankSeconds ?? 120, blank],
  ]);
}

/** Several codes one after the other, each shown `showSeconds` after `blankSeconds` of empty scene: a queue at a gate. */
export function writeQrVideoSequence(path: string, texts: readonly string[], opts: VideoOptions = {}): void {
  const width = opts.width ?? 640;
  const height = opts.height ?? 480;
  const blank = new Uint8Array(width * height).fill(110);
  const gap = opts.blankSeconds ?? 1;
  const segments: Array<readonly [number, Uint8Array]> = [[gap, blank]];
  for (const text of texts) segments.push([opts.showSeconds ?? 1, qrFrame(text, width, height)], [gap, blank]);
  writeY4m(path, width, height, opts.fps ?? 10, segments);
}
