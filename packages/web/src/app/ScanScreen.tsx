import type { ClientStore, ScanOutcome, SyncStatus } from '@entrada/client';
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import type { DeviceCredentials } from '../device/credentials.ts';
import { staffLogout, type StaffSession } from '../device/staff.ts';
import { countOutcome, emptyCount, loadCounts, NO_GATE, saveCounts, type GateCounts } from '../engine/counters.ts';
import { BrowserEngine, type GateChoice } from '../engine/engine.ts';
import { CameraReader, type CameraState } from '../scan/camera.ts';
import { RepeatFilter } from '../scan/read-filter.ts';
import { WedgeBuffer } from '../scan/wedge.ts';
import { signal, unlockAudio } from '../ui/feedback.ts';
import { present, type Presentation } from '../verdict/present.ts';
import { StatusBar, type ConnectionLevel } from './StatusBar.tsx';
import { SyncPanel } from './SyncPanel.tsx';
import { VerdictOverlay } from './VerdictOverlay.tsx';

export interface ShownVerdict {
  p: Presentation;
  outcome: ScanOutcome | null;
  capturedAt: number | null;
  key: number;
}

interface Props {
  store: ClientStore;
  creds: DeviceCredentials;
  staff: StaffSession;
  gate: GateChoice;
  onChangeGate: () => void;
  onLoggedOut: () => void;
}

/** "Ready to scan with ticket data" as a performance mark: benchmarks measure app start and first download by it. */
function markReady(e: BrowserEngine): void {
  if (e.scanner.hasManifest && performance.getEntriesByName('entrada:ready').length === 0)
    performance.mark('entrada:ready');
}

export function ScanScreen({ store, creds, staff, gate, onChangeGate, onLoggedOut }: Props) {
  const [engine, setEngine] = useState<BrowserEngine | null>(null);
  const [status, setStatus] = useState<SyncStatus | null>(null);
  const [level, setLevel] = useState<ConnectionLevel>(() => (navigator.onLine ? 'online' : 'offline'));
  const [verdict, setVerdict] = useState<ShownVerdict | null>(null);
  const [counts, setCounts] = useState<GateCounts>({});
  const [camera, setCamera] = useState<CameraState>('off');
  const [manual, setManual] = useState<string | null>(null);
  const [panel, setPanel] = useState(false);
  const [now, setNow] = useState(() => Date.now());
  const video = useRef<HTMLVideoElement>(null);
  const reader = useRef<CameraReader | null>(null);
  const filter = useRef(new RepeatFilter());
  const queue = useRef<Promise<void>>(Promise.resolve());
  const verdictKey = useRef(0);
  const eventId = creds.event.id;
  // Read by each heartbeat: the gate and staff member now, without restarting the engine when they change.
  const where = useRef({ gateId: gate.gateId, staffId: staff.id });
  where.current = { gateId: gate.gateId, staffId: staff.id };

  useEffect(() => {
    let engineRef: BrowserEngine | null = null;
    let cancelled = false;
    void loadCounts(store, eventId).then((c) => {
      if (!cancelled) setCounts(c);
    });
    const onStatus = (s: SyncStatus): void => {
      setStatus(s);
      if (engineRef) {
        markReady(engineRef);
        setLevel(engineRef.scanner.connectionLevel());
      }
    };
    const onConnectivity = (): void => {
      if (engineRef) setLevel(engineRef.scanner.connectionLevel());
    };
    BrowserEngine.start(store, creds, onStatus, () => where.current, onConnectivity)
      .then((e) => {
        if (cancelled) {
          e.stop();
          return;
        }
        engineRef = e;
        setEngine(e);
        markReady(e);
        setLevel(e.scanner.connectionLevel());
        void e.scanner.status().then(setStatus);
      })
      .catch(() => undefined);
    const tick = window.setInterval(() => setNow(Date.now()), 5000);
    return () => {
      cancelled = true;
      engineRef?.stop();
      clearInterval(tick);
    };
  }, [store, creds, eventId]);

  const handleCode = useCallback(
    (code: string, capturedAt: number | null) => {
      if (!engine) return;
      if (!filter.current.accept(code, Date.now())) return;
      // One scan at a time, in the order they were read: each one's decision sees the previous one's outcome.
      queue.current = queue.current.then(async () => {
        let shown: ShownVerdict;
        try {
          const outcome = await engine.scan(code, gate);
          setLevel(engine.scanner.connectionLevel());
          const refreshed = engine.scanner.manifestRefreshedAt;
          const p = present(outcome, { dataAgeMs: refreshed === null ? null : Date.now() - refreshed });
          shown = { p, outcome, capturedAt, key: ++verdictKey.current };
          setCounts((c) => {
            const next = countOutcome(c, gate.gateId, outcome);
            void saveCounts(store, eventId, next);
            return next;
          });
        } catch (err) {
          // The server refused the device itself (revoked, suspended, gate removed): never silently admit.
          const message = err instanceof Error ? err.message : String(err);
          shown = {
            p: {
              tone: 'stop',
              icon: '✕',
              headline: 'DEVICE PROBLEM',
              detail: message,
              who: null,
              badge: null,
              holdMs: null,
            },
            outcome: null,
            capturedAt,
            key: ++verdictKey.current,
          };
        }
        setVerdict(shown);
        signal(shown.p.tone, { sound: true, vibrate: true });
      });
    },
    [engine, gate, store, eventId],
  );

  // Camera: on while visible; the reader pauses itself after two idle minutes.
  useEffect(() => {
    if (!engine || !video.current) return;
    const r = new CameraReader(video.current, (read) => handleCode(read.text, read.capturedAt), setCamera);
    reader.current = r;
    void r.start();
    const onVisibility = (): void => {
      if (document.visibilityState === 'hidden') r.pause();
      else void r.start();
    };
    document.addEventListener('visibilitychange', onVisibility);
    return () => {
      document.removeEventListener('visibilitychange', onVisibility);
      r.stop();
      reader.current = null;
    };
  }, [engine, handleCode]);

  // Keyboard-wedge scanners type into whatever has focus; catch them unless the steward is typing in a field.
  useEffect(() => {
    const wedge = new WedgeBuffer();
    const onKey = (e: KeyboardEvent): void => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA')) return;
      const code = wedge.key(e.key, e.timeStamp);
      if (code) handleCode(code, null);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [handleCode]);

  const submitManual = (e: FormEvent): void => {
    e.preventDefault();
    const code = manual?.trim();
    setManual(null);
    if (code) {
      filter.current.reset();
      handleCode(code, null);
    }
  };

  const dismiss = useCallback(() => {
    // The filter is not reset: a ticket still held in front of the camera must not be scanned again.
    setVerdict(null);
    reader.current?.touch();
  }, []);

  const count = counts[gate.gateId ?? NO_GATE] ?? emptyCount();
  const gateName = creds.gates.find((g) => g.id === gate.gateId)?.name ?? 'No gate';
  const refreshed = engine?.scanner.manifestRefreshedAt ?? null;

  return (
    <div className="screen scan" onPointerDown={unlockAudio}>
      <StatusBar
        status={status}
        level={level}
        now={now}
        manifestAt={refreshed}
        expired={engine?.scanner.manifestExpired(now) ?? false}
        storageDamaged={(engine?.scanner.storageProblems.length ?? 0) > 0}
        onOpen={() => setPanel(true)}
        onSyncNow={() => void engine?.scanner.sync.syncNow()}
      />
      <div className="gatebar">
        <span className="gate-name">{gateName}</span>
        <span className={gate.direction === 'entry' ? 'dir entry' : 'dir exit'}>
          {gate.direction === 'entry' ? 'ENTRY' : 'EXIT'}
        </span>
      </div>
      <div
        className="camera"
        onClick={() => {
          unlockAudio();
          void reader.current?.start();
        }}
      >
        <video ref={video} muted playsInline aria-label="Camera" />
        {camera !== 'scanning' && (
          <div className="camera-msg" data-testid="camera-state" data-state={camera}>
            {camera === 'paused' && 'Camera paused — tap to scan'}
            {camera === 'starting' && 'Starting camera…'}
            {camera === 'denied' && 'Camera blocked — allow it in the browser settings, or type codes below'}
            {camera === 'unavailable' && 'No camera — use a handheld scanner or type codes'}
            {camera === 'off' && (engine ? 'Tap to scan' : 'Loading ticket data…')}
          </div>
        )}
        {camera === 'scanning' && <div className="viewfinder" aria-hidden="true" />}
      </div>
      <div className="counters" data-testid="counters">
        <div>
          <b>{count.admitted}</b>
          <span>in</span>
        </div>
        <div>
          <b>{count.exited}</b>
          <span>out</span>
        </div>
        <div>
          <b>{count.refused}</b>
          <span>refused</span>
        </div>
      </div>
      {manual === null ? (
        <button className="big secondary" onClick={() => setManual('')}>
          Type a code
        </button>
      ) : (
        <form className="manual" onSubmit={submitManual}>
          <input
            name="manual-code"
            autoFocus
            value={manual}
            onChange={(e) => setManual(e.target.value)}
            placeholder="Ticket code"
            autoCapitalize="characters"
            autoComplete="off"
            spellCheck={false}
          />
          <button className="big" type="submit">
            Check
          </button>
        </form>
      )}
      {verdict && <VerdictOverlay verdict={verdict} onDismiss={dismiss} />}
      {panel && engine && (
        <SyncPanel
          engine={engine}
          status={status}
          level={level}
          now={now}
          staff={staff}
          onClose={() => setPanel(false)}
          onChangeGate={onChangeGate}
          onLogout={async () => {
            await staffLogout(store, eventId);
            onLoggedOut();
          }}
          decoder={reader.current?.decoderKind ?? null}
        />
      )}
    </div>
  );
}
