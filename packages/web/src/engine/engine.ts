import {
  Scanner,
  webLocksSyncLock,
  type ClientStore,
  type ConnectivityState,
  type HeartbeatContext,
  type ScanOutcome,
  type SyncStatus,
} from '@entrada/client';
import type { Direction } from '@entrada/core';
import { signerOf, type DeviceCredentials } from '../device/credentials.ts';
import { watchBattery } from './battery.ts';

/** The scanner app's version as heartbeats report it (organisers see which devices run an old build). */
export const APP_VERSION = `web ${import.meta.env.VITE_APP_VERSION ?? '0.1.0'}`;

export interface GateChoice {
  gateId: string | null;
  direction: Direction;
}

/**
 * The engine wired to the browser: IndexedDB storage, a cross-tab sync lock,
 * and the triggers of seed 001 — coming online, the app becoming visible
 * again — on top of the sync loop's own timers.
 */
export class BrowserEngine {
  readonly scanner: Scanner;
  private readonly detach: () => void;

  private constructor(
    readonly store: ClientStore,
    readonly creds: DeviceCredentials,
    onStatus: (s: SyncStatus) => void,
    context: () => Omit<HeartbeatContext, 'battery'>,
    onConnectivity?: (c: ConnectivityState) => void,
  ) {
    const { publicKey, sign } = signerOf(creds);
    const battery = watchBattery();
    this.scanner = new Scanner({
      store,
      baseUrl: location.origin,
      eventId: creds.event.id,
      device: { deviceId: creds.deviceId, token: creds.token, publicKey, sign },
      lock: webLocksSyncLock(`entrada-sync:${creds.event.id}`),
      networkDown: () => !navigator.onLine,
      onStatus,
      ...(onConnectivity ? { onConnectivity } : {}),
      // The staff member logged in on this device: every scan records them (issue 13).
      staffId: () => context().staffId ?? null,
      // Every 30 s while online and after each sync: the organisers' fleet table (gate, staff, pending, battery).
      heartbeat: { appVersion: APP_VERSION, context: () => ({ ...context(), battery: battery.current() }) },
    });
    // The health probe follows the browser's word: none while it says offline, one at once when it says online.
    const online = (): void => {
      void this.scanner.connectivity.onOnline();
      void this.scanner.sync.onOnline();
    };
    const offline = (): void => {
      this.scanner.connectivity.onOffline();
      this.scanner.sync.onOffline();
    };
    const visible = (): void => {
      if (document.visibilityState === 'visible') void this.scanner.sync.onResume();
    };
    window.addEventListener('online', online);
    window.addEventListener('offline', offline);
    document.addEventListener('visibilitychange', visible);
    this.detach = () => {
      battery.stop();
      window.removeEventListener('online', online);
      window.removeEventListener('offline', offline);
      document.removeEventListener('visibilitychange', visible);
    };
  }

  static async start(
    store: ClientStore,
    creds: DeviceCredentials,
    onStatus: (s: SyncStatus) => void,
    context: () => Omit<HeartbeatContext, 'battery'> = () => ({}),
    onConnectivity?: (c: ConnectivityState) => void,
  ): Promise<BrowserEngine> {
    const engine = new BrowserEngine(store, creds, onStatus, context, onConnectivity);
    await engine.scanner.start();
    // The browser knows before any request fails.
    if (!navigator.onLine) {
      engine.scanner.sync.onOffline();
      engine.scanner.connectivity.onOffline();
    }
    return engine;
  }

  scan(code: string, where: GateChoice): Promise<ScanOutcome> {
    return this.scanner.scan(code, where);
  }

  stop(): void {
    this.detach();
    this.scanner.stop();
  }
}
