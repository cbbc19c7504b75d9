/**
 * The Battery Status API where the browser has it (Chromium on Android and desktop; not Safari or Firefox):
 * the level and charging state the heartbeat reports. Read once and then kept current by its events, so a
 * heartbeat never waits for it.
 */
interface BatteryManagerLike extends EventTarget {
  level: number;
  charging: boolean;
}
type NavigatorWithBattery = Navigator & { getBattery?: () => Promise<BatteryManagerLike> };

export interface BatteryReading {
  level: number;
  charging: boolean;
}

export function watchBattery(): { current: () => BatteryReading | null; stop: () => void } {
  let reading: BatteryReading | null = null;
  let manager: BatteryManagerLike | null = null;
  const update = (): void => {
    if (manager) reading = { level: manager.level, charging: manager.charging };
  };
  const nav = navigator as NavigatorWithBattery;
  if (typeof nav.getBattery === 'function') {
    nav
      .getBattery()
      .then((m) => {
        manager = m;
        update();
        m.addEventListener('levelchange', update);
        m.addEventListener('chargingchange', update);
      })
      .catch(() => undefined); // Refused by a permissions policy: no battery in the heartbeat, nothing else changes.
  }
  return {
    current: () => reading,
    stop: () => {
      manager?.removeEventListener('levelchange', update);
      manager?.removeEventListener('chargingchange', update);
    },
  };
}
