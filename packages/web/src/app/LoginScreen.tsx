import type { ClientStore } from '@entrada/client';
import { useState, type FormEvent } from 'react';
import { RequestFailed } from '../device/api.ts';
import { forgetDevice, type DeviceCredentials } from '../device/credentials.ts';
import { staffLogin, type StaffSession } from '../device/staff.ts';

const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '⌫', '0', 'OK'];

/** Staff log in with a username and a PIN on a glove-sized keypad. */
export function LoginScreen({
  store,
  creds,
  onLoggedIn,
  onUnpaired,
}: {
  store: ClientStore;
  creds: DeviceCredentials;
  onLoggedIn: (s: StaffSession) => void;
  onUnpaired: () => void;
}) {
  const [username, setUsername] = useState('');
  const [pin, setPin] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const login = async (): Promise<void> => {
    if (!username.trim() || pin.length < 4) {
      setError('Enter your username and PIN (4 digits or more).');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onLoggedIn(await staffLogin(store, creds.token, creds.event.id, username.trim(), pin));
    } catch (err) {
      setPin('');
      setError(err instanceof RequestFailed ? err.message : 'Login failed. Try again.');
    } finally {
      setBusy(false);
    }
  };

  const press = (k: string): void => {
    if (k === '⌫') setPin((p) => p.slice(0, -1));
    else if (k === 'OK') void login();
    else setPin((p) => (p.length < 12 ? p + k : p));
  };

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void login();
  };

  return (
    <div className="screen setup">
      <h1>{creds.event.name}</h1>
      <p className="hint">Staff login · {creds.name}</p>
      <form onSubmit={submit} className="stack">
        <label>
          Username
          <input
            name="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            autoCapitalize="none"
            autoComplete="username"
            spellCheck={false}
          />
        </label>
        <label>
          PIN
          <input
            name="pin"
            value={pin}
            onChange={(e) => setPin(e.target.value.replace(/\D/g, '').slice(0, 12))}
            type="password"
            inputMode="numeric"
            autoComplete="current-password"
          />
        </label>
        <div className="keypad" aria-label="PIN keypad">
          {KEYS.map((k) => (
            <button
              type="button"
              key={k}
              className={k === 'OK' ? 'key ok' : 'key'}
              onClick={() => press(k)}
              disabled={busy}
            >
              {k}
            </button>
          ))}
        </div>
        <button className="big" type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <button
        className="link"
        onClick={async () => {
          if (confirm('Unpair this device? Scans not yet synced stay on it but it must be paired again to scan.')) {
            await forgetDevice(store);
            onUnpaired();
          }
        }}
      >
        Unpair device
      </button>
    </div>
  );
}
