import { DexieStore, type ClientStore } from '@entrada/client';
import { useEffect, useState } from 'react';
import { loadCredentials, type DeviceCredentials } from '../device/credentials.ts';
import { loadStaff, type StaffSession } from '../device/staff.ts';
import type { GateChoice } from '../engine/engine.ts';
import { GateScreen } from './GateScreen.tsx';
import { LoginScreen } from './LoginScreen.tsx';
import { PairScreen } from './PairScreen.tsx';
import { ScanScreen } from './ScanScreen.tsx';

type Phase =
  | { name: 'loading' }
  | { name: 'failed'; message: string }
  | { name: 'pair' }
  | { name: 'login'; creds: DeviceCredentials }
  | { name: 'gate'; creds: DeviceCredentials; staff: StaffSession }
  | { name: 'scan'; creds: DeviceCredentials; staff: StaffSession; gate: GateChoice };

const GATE_KEY = (eventId: string): string => `gate:${eventId}`;

/** Pair → staff login → gate → scan; every step is remembered so a reload (or a crash) lands back on the scan screen. */
export function App() {
  const [store, setStore] = useState<ClientStore | null>(null);
  const [phase, setPhase] = useState<Phase>({ name: 'loading' });

  useEffect(() => {
    let closed = false;
    DexieStore.open('entrada-scanner')
      .then(async (s) => {
        if (closed) return;
        setStore(s);
        setPhase(await resume(s));
      })
      .catch((err: unknown) => {
        setPhase({
          name: 'failed',
          message: `This browser cannot store scans offline (${err instanceof Error ? err.message : String(err)}). Use a normal (not private) window.`,
        });
      });
    return () => {
      closed = true;
    };
  }, []);

  if (phase.name === 'loading' || !store)
    return (
      <div className="screen center">
        <p className="hint">Starting…</p>
      </div>
    );
  if (phase.name === 'failed')
    return (
      <div className="screen center">
        <p className="error" role="alert">
          {phase.message}
        </p>
      </div>
    );
  if (phase.name === 'pair') {
    return <PairScreen store={store} onPaired={(creds) => setPhase({ name: 'login', creds })} />;
  }
  if (phase.name === 'login') {
    return (
      <LoginScreen
        store={store}
        creds={phase.creds}
        onLoggedIn={(staff) => setPhase({ name: 'gate', creds: phase.creds, staff })}
        onUnpaired={() => setPhase({ name: 'pair' })}
      />
    );
  }
  if (phase.name === 'gate') {
    return (
      <GateScreen
        creds={phase.creds}
        staff={phase.staff}
        onChosen={async (gate) => {
          await store.setMeta(GATE_KEY(phase.creds.event.id), gate);
          setPhase({ name: 'scan', creds: phase.creds, staff: phase.staff, gate });
        }}
      />
    );
  }
  return (
    <ScanScreen
      store={store}
      creds={phase.creds}
      staff={phase.staff}
      gate={phase.gate}
      onChangeGate={() => setPhase({ name: 'gate', creds: phase.creds, staff: phase.staff })}
      onLoggedOut={() => setPhase({ name: 'login', creds: phase.creds })}
    />
  );
}

async function resume(store: ClientStore): Promise<Phase> {
  const creds = await loadCredentials(store);
  if (!creds) return { name: 'pair' };
  const staff = await loadStaff(store, creds.event.id);
  if (!staff) return { name: 'login', creds };
  const gate = await store.getMeta<GateChoice | null>(GATE_KEY(creds.event.id));
  if (!gate) return { name: 'gate', creds, staff };
  return { name: 'scan', creds, staff, gate };
}
