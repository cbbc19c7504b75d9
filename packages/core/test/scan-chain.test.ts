import { describe, expect, it } from 'vitest';
import { chainGenesis, chainHeadMessage, ed25519, nextLink, scanHash, toHex, type ChainedScan } from '../src/index.ts';

const scan = (seq: number, over: Partial<ChainedScan> = {}): ChainedScan => ({
  seq,
  qrcode: `CODE-${seq}`,
  scannedAt: 1_782_928_800_000 + seq * 1000,
  direction: 'entry',
  gateId: 'g1',
  localResult: 'valid',
  ...over,
});
const chain = (scans: ChainedScan[]): Uint8Array =>
  scans.reduce((link, s) => nextLink(link, scanHash('ev', 'dev', s)), chainGenesis('ev', 'dev'));

describe('scan hash chain', () => {
  const base = [scan(1), scan(2), scan(3)];
  const head = chain(base);

  it('is deterministic and depends on every field and on order', () => {
    expect(toHex(chain([scan(1), scan(2), scan(3)]))).toBe(toHex(head));
    const variants: ChainedScan[][] = [
      [scan(1), scan(2, { qrcode: 'CODE-X' }), scan(3)],
      [scan(1), scan(2, { scannedAt: 1 }), scan(3)],
      [scan(1), scan(2, { direction: 'exit' }), scan(3)],
      [scan(1), scan(2, { gateId: null }), scan(3)],
      [scan(1), scan(2, { localResult: 'duplicate' }), scan(3)],
      [scan(2), scan(1), scan(3)],
      [scan(1), scan(3)],
      [scan(1), scan(2), scan(3), scan(4)],
    ];
    for (const v of variants) expect(toHex(chain(v))).not.toBe(toHex(head));
    expect(toHex(chainGenesis('ev', 'dev'))).not.toBe(toHex(chainGenesis('ev', 'dev2')));
  });

  it('one signature over the head authenticates the whole upload', () => {
    const keys = ed25519.generateKeyPair((n) => new Uint8Array(n).fill(9));
    const sig = ed25519.sign(keys.secretKey, chainHeadMessage('ev', 'dev', 3, head));
    expect(ed25519.verify(keys.publicKey, chainHeadMessage('ev', 'dev', 3, head), sig)).toBe(true);
    const tampered = chain([scan(1), scan(2, { qrcode: 'CODE-X' }), scan(3)]);
    expect(ed25519.verify(keys.publicKey, chainHeadMessage('ev', 'dev', 3, tampered), sig)).toBe(false);
  });
});
