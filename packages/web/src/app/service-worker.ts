import { registerSW } from 'virtual:pwa-register';

type Listener = (ready: boolean) => void;
const listeners = new Set<Listener>();
let update: ((reload?: boolean) => Promise<void>) | null = null;
let updateReady = false;

/** Registers the precaching service worker; a new version is announced, never forced on a steward mid-scan. */
export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator)) return;
  update = registerSW({
    immediate: true,
    onNeedRefresh() {
      updateReady = true;
      for (const l of listeners) l(true);
    },
  });
}

export function onUpdateReady(l: Listener): () => void {
  listeners.add(l);
  l(updateReady);
  return () => listeners.delete(l);
}

export function applyUpdate(): void {
  void update?.(true);
}
