import type { ClientStore } from '@entrada/client';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { RequestFailed } from '../device/api.ts';
import { pairDevice, type DeviceCredentials } from '../device/credentials.ts';
import { pairingCodeFrom } from '../device/pairing-code.ts';
import { CameraReader } from '../scan/camera.ts';

/** First run: the organiser shows a pairing QR (or reads out its code); this device makes its key pair and registers. */
export function PairScreen({ store, onPaired }: { store: ClientStore; onPaired: (c: DeviceCredentials) => void }) {
  const fromUrl = pairingCodeFrom(location.href) ?? '';
  const [code, setCode] = useState(fromUrl);
  const [name, setName] = useState(() => `Scanner ${Math.random().toString(36).slice(2, 6).toUpperCase()}`);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [scanning, setScanning] = useState(false);
  const video = useRef<HTMLVideoElement>(null);

  const pair = async (raw: string): Promise<void> => {
    const parsed = pairingCodeFrom(raw);
    if (!parsed) {
      setError('That is not a pairing code. It looks like ABCD-EFGH.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const creds = await pairDevice(store, parsed, name.trim() || 'Scanner');
      // The code is single-use: drop it from the address bar so a reload does not try it again.
      history.replaceState(null, '', '/');
      onPaired(creds);
    } catch (err) {
      setError(err instanceof RequestFailed ? err.message : 'Pairing failed. Try again.');
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    if (!scanning || !video.current) return;
    const reader = new CameraReader(
      video.current,
      (r) => {
        if (pairingCodeFrom(r.text)) {
          reader.stop();
          setScanning(false);
          setCode(pairingCodeFrom(r.text) ?? '');
          void pair(r.text);
        }
      },
      (s) => {
        if (s === 'denied' || s === 'unavailable') {
          setScanning(false);
          setError('No camera: type the code instead.');
        }
      },
    );
    void reader.start();
    return () => reader.stop();
    // Only (re)starts with the camera toggle; `pair` reads the latest name through its closure at read time.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [scanning]);

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void pair(code);
  };

  return (
    <div className="screen setup">
      <h1>Pair this scanner</h1>
      <p className="hint">
        Ask the organiser for a pairing code (Entrada console or <code>entrada devices pair</code>).
      </p>
      {scanning ? (
        <div className="camera small">
          <video ref={video} />
          <button className="big secondary" onClick={() => setScanning(false)}>
            Cancel
          </button>
        </div>
      ) : (
        <button className="big" onClick={() => setScanning(true)} disabled={busy}>
          Scan pairing QR
        </button>
      )}
      <form onSubmit={submit} className="stack">
        <label>
          Pairing code
          <input
            name="code"
            value={code}
            onChange={(e) => setCode(e.target.value)}
            placeholder="ABCD-EFGH"
            autoCapitalize="characters"
            autoComplete="off"
            spellCheck={false}
            inputMode="text"
          />
        </label>
        <label>
          Device name
          <input name="device-name" value={name} onChange={(e) => setName(e.target.value)} maxLength={80} />
        </label>
        <button className="big" type="submit" disabled={busy || code.trim() === ''}>
          {busy ? 'Pairing…' : 'Pair device'}
        </button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
