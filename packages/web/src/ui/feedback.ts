import type { Tone } from '../verdict/present.ts';

let audio: AudioContext | null = null;

/**
 * Sound and vibration so the steward need not look: one high beep for go, two
 * mid beeps for wait, a long low buzz for stop. Generated with WebAudio (no
 * audio files to fetch). Browsers only allow sound after a user gesture, so
 * `unlockAudio` runs on the first tap.
 */
export function unlockAudio(): void {
  if (audio) return;
  const Ctor =
    window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
  if (!Ctor) return;
  audio = new Ctor();
}

const PATTERNS: Record<Tone, { beeps: Array<[hz: number, ms: number]>; vibrate: number[] }> = {
  go: { beeps: [[1320, 120]], vibrate: [80] },
  wait: {
    beeps: [
      [880, 110],
      [880, 110],
    ],
    vibrate: [80, 80, 80],
  },
  stop: { beeps: [[220, 450]], vibrate: [300, 100, 300] },
};

export function signal(tone: Tone, opts: { sound: boolean; vibrate: boolean }): void {
  const p = PATTERNS[tone];
  if (opts.vibrate && 'vibrate' in navigator) navigator.vibrate(p.vibrate);
  if (!opts.sound || !audio) return;
  let t = audio.currentTime;
  for (const [hz, ms] of p.beeps) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = tone === 'stop' ? 'square' : 'sine';
    osc.frequency.value = hz;
    gain.gain.setValueAtTime(0.25, t);
    gain.gain.exponentialRampToValueAtTime(0.001, t + ms / 1000);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + ms / 1000);
    t += ms / 1000 + 0.06;
  }
}
