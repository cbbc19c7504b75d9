import { useEffect } from 'react';
import type { ShownVerdict } from './ScanScreen.tsx';

/** Full screen, one colour, one shape, one word: readable at arm's length in sunlight. */
export function VerdictOverlay({ verdict, onDismiss }: { verdict: ShownVerdict; onDismiss: () => void }) {
  const { p, capturedAt, key } = verdict;
  useEffect(() => {
    // Measured once the verdict is on screen (next frame), from the camera frame that carried the code.
    const raf = requestAnimationFrame(() => {
      if (capturedAt !== null)
        performance.measure('entrada:frame-to-verdict', { start: capturedAt, end: performance.now() });
    });
    const hold = p.holdMs === null ? null : window.setTimeout(onDismiss, p.holdMs);
    return () => {
      cancelAnimationFrame(raf);
      if (hold !== null) clearTimeout(hold);
    };
  }, [key, capturedAt, p.holdMs, onDismiss]);

  return (
    <div
      className={`verdict ${p.tone}`}
      data-testid="verdict"
      data-tone={p.tone}
      role="alert"
      aria-live="assertive"
      onClick={onDismiss}
    >
      <div className="verdict-icon" aria-hidden="true">
        {p.icon}
      </div>
      <div className="verdict-headline">{p.headline}</div>
      <div className="verdict-detail">{p.detail}</div>
      {p.who && <div className="verdict-who">{p.who}</div>}
      {p.badge && <div className="verdict-badge">{p.badge}</div>}
      <div className="verdict-tap">{p.holdMs === null ? 'Tap to continue' : ''}</div>
    </div>
  );
}
