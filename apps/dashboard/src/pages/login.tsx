// Login with an API token (metalfleet tokens create, or the manager's
// <dataDir>/admin-token): checked against the API before it is kept.
import { useState } from 'preact/hooks';
import { api, session } from '../api.ts';

export function LoginPage({ onLogin }: { onLogin: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('/api/v1/summary', { token: token.trim() });
      session.set(token.trim());
      onLogin();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1>metalfleet</h1>
      <form onSubmit={submit}>
        <label for="token">API token</label>
        <input id="token" type="password" autocomplete="off" value={token} onInput={(e) => setToken(e.currentTarget.value)} placeholder="mfat.…" required />
        <button type="submit" disabled={busy || token.trim() === ''}>{busy ? 'Checking…' : 'Log in'}</button>
        {error && <p class="error" role="alert">{error}</p>}
        <p class="muted">An admin creates tokens with <code>metalfleet tokens create</code>; the first one is in the manager's <code>&lt;dataDir&gt;/admin-token</code>.</p>
      </form>
    </main>
  );
}
