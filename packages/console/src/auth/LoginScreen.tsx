/** Sign in: email and password (organiser accounts), or an API token (scripts' admin tokens). */
import * as Tabs from '@radix-ui/react-tabs';
import { useState, type FormEvent, type ReactNode } from 'react';
import { api, errorText, type ConsoleUser } from '../api/client.ts';
import { ErrorBox, TextField } from '../ui/kit.tsx';

export function LoginScreen({ onLogin }: { onLogin: (user: ConsoleUser) => void }): ReactNode {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function run(e: FormEvent, attempt: () => Promise<ConsoleUser>): Promise<void> {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onLogin(await attempt());
    } catch (err) {
      setError(
        errorText(err).replace(
          'You are not signed in any more. Sign in again.',
          'Those details were not accepted. Check them and try again.',
        ),
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <div className="login-card">
        <h1>Entrada console</h1>
        <p className="muted">Sign in to set up events, tickets and scanners.</p>
        <Tabs.Root defaultValue="password" onValueChange={() => setError(null)}>
          <Tabs.List className="tabs" aria-label="How to sign in">
            <Tabs.Trigger value="password">Email and password</Tabs.Trigger>
            <Tabs.Trigger value="token">API token</Tabs.Trigger>
          </Tabs.List>
          <Tabs.Content value="password">
            <form onSubmit={(e) => void run(e, () => api.login(email.trim(), password))}>
              <TextField
                label="Email"
                type="email"
                name="email"
                autoComplete="username"
                value={email}
                onChange={setEmail}
              />
              <TextField
                label="Password"
                type="password"
                name="password"
                autoComplete="current-password"
                value={password}
                onChange={setPassword}
              />
              <ErrorBox error={error} />
              <button type="submit" className="primary" disabled={busy || !email || !password}>
                Sign in
              </button>
            </form>
          </Tabs.Content>
          <Tabs.Content value="token">
            <form onSubmit={(e) => void run(e, () => api.loginWithToken(token.trim()))}>
              <TextField
                label="API token"
                type="password"
                name="token"
                autoComplete="off"
                value={token}
                onChange={setToken}
                hint="An admin token (eat_…) from entrada tokens create or the server's first start. Kept only in this browser tab."
              />
              <ErrorBox error={error} />
              <button type="submit" className="primary" disabled={busy || !token.trim()}>
                Sign in with token
              </button>
            </form>
          </Tabs.Content>
        </Tabs.Root>
      </div>
    </main>
  );
}
