import type { Output } from './output.ts';

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * A QR code of `text` drawn with half blocks, for a phone camera to read off
 * the screen. It sets its own black-on-white colours (a QR on a dark theme
 * would be inverted), so it is drawn only where colours are allowed, and only
 * if it fits the terminal; null otherwise. `qrcode` is loaded only then.
 */
export async function terminalQr(text: string, output: Output): Promise<string[] | null> {
  if (!output.color) return null;
  let drawn: string;
  try {
    const { default: QRCode } = await import('qrcode');
    drawn = await QRCode.toString(text, { type: 'terminal', small: true, errorCorrectionLevel: 'L' });
  } catch {
    return null; // A picture is a convenience: the URL and code are printed anyway.
  }
  const lines = drawn.split('\n');
  while (lines.length > 0 && lines.at(-1)!.replace(ANSI, '').trim() === '') lines.pop();
  const width = Math.max(...lines.map((l) => l.replace(ANSI, '').length));
  return width + 2 <= output.columns ? lines : null;
}

/** Prints the QR indented by two columns, when it can be drawn. */
export async function printQr(text: string, output: Output): Promise<boolean> {
  const lines = await terminalQr(text, output);
  if (!lines) return false;
  for (const line of lines) output.out(`  ${line}`);
  return true;
}
