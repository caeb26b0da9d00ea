// Sign-in: an API key or an access key pair, exchanged for a session cookie.
import { useState, type FormEvent } from 'react';
import { api, readableError } from '../api/client';
import { signIn, type Credentials, type Session } from '../api/session';

/** credentialsFrom picks the credentials the form holds, or explains what is missing. */
export function credentialsFrom(apiKey: string, accessKeyId: string, secret: string): Credentials | string {
  const k = apiKey.trim();
  if (k) return { apiKey: k };
  const id = accessKeyId.trim();
  if (id && secret) return { accessKeyId: id, secretAccessKey: secret };
  if (id || secret) return 'Enter both the access key ID and the secret access key.';
  return 'Enter an API key, or an access key ID and secret access key.';
}

/** SignIn is the sign-in page. */
export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [apiKey, setApiKey] = useState('');
  const [accessKeyId, setAccessKeyId] = useState('');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const creds = credentialsFrom(apiKey, accessKeyId, secret);
    if (typeof creds === 'string') {
      setError(creds);
      return;
    }
    setBusy(true);
    setError('');
    signIn(api, creds)
      .then((s) => {
        setSecret('');
        setApiKey('');
        onSignedIn(s);
      })
      .catch((err: unknown) => setError(readableError(err)))
      .finally(() => setBusy(false));
  };

  return (
    <main className="center-page">
      <form className="card signin" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to Outcrop</h1>
        <p className="muted">Use the same credentials as the APIs: an API key, or an access key pair.</p>
        <label>
          API key
          <input
            type="password"
            autoComplete="off"
            value={apiKey}
            onChange={(e) => setApiKey(e.target.value)}
            autoFocus
          />
        </label>
        <fieldset>
          <legend>or an access key pair</legend>
          <label>
            Access key ID
            <input type="text" autoComplete="username" value={accessKeyId} onChange={(e) => setAccessKeyId(e.target.value)} />
          </label>
          <label>
            Secret access key
            <input
              type="password"
              autoComplete="current-password"
              value={secret}
              onChange={(e) => setSecret(e.target.value)}
            />
          </label>
        </fieldset>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
