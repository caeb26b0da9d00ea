// Access: principals, their access keys and API keys (a new secret is shown
// once), inline policies in a JSON editor validated by the server exactly as
// it validates on save, console sessions, and the principal's audit log.
import { useCallback, useState, type FormEvent } from 'react';
import { admin, type AccessKey, type APIKey, type PrincipalDetail } from '../api/admin';
import { api, readableError } from '../api/client';
import { CodeBlock, ErrorNote, Tabs } from '../components/ui';
import * as fmt from '../lib/format';
import { jsonError, POLICY_TEMPLATE, prettyDocument, validName } from '../lib/policy';
import { navigate } from '../lib/router';
import { useAsync } from '../lib/useAsync';
import { LogTable } from './Logs';

const a = admin(api);

/** Secret shows a just-created credential once. */
function Secret({ title, items, onDone }: { title: string; items: [string, string][]; onDone: () => void }) {
  return (
    <div className="card secret" role="alert" aria-label={title}>
      <h3>{title}</h3>
      <p>Copy it now: the server keeps only a hash, so it cannot be shown again.</p>
      {items.map(([label, value]) => (
        <div key={label}>
          <div className="muted">{label}</div>
          <CodeBlock code={value} label={label} />
        </div>
      ))}
      <button type="button" className="primary" onClick={onDone}>
        I have saved it
      </button>
    </div>
  );
}

function Keys({ p, reload }: { p: PrincipalDetail; reload: () => void }) {
  const [error, setError] = useState('');
  const [ttl, setTtl] = useState('');
  const [secret, setSecret] = useState<{ title: string; items: [string, string][] } | null>(null);
  const run = (f: () => Promise<unknown>) => {
    setError('');
    f()
      .then(reload)
      .catch((e: unknown) => setError(readableError(e)));
  };
  const newAccessKey = () =>
    a
      .createAccessKey(p.name, ttl.trim() || undefined)
      .then((k: AccessKey) => {
        setSecret({ title: 'New access key', items: [['Access key ID', k.accessKeyId], ['Secret access key', k.secretAccessKey ?? '']] });
        reload();
      })
      .catch((e: unknown) => setError(readableError(e)));
  const newAPIKey = () =>
    a
      .createAPIKey(p.name, ttl.trim() || undefined)
      .then((k: APIKey) => {
        setSecret({ title: 'New API key', items: [['API key', k.apiKey ?? '']] });
        reload();
      })
      .catch((e: unknown) => setError(readableError(e)));
  return (
    <div className="stack">
      {secret && <Secret {...secret} onDone={() => setSecret(null)} />}
      <ErrorNote text={error} />
      <div className="row end">
        <label>
          Expires after (optional, e.g. 720h)
          <input value={ttl} onChange={(e) => setTtl(e.target.value)} />
        </label>
        <button type="button" onClick={newAccessKey}>
          Create access key
        </button>
        <button type="button" onClick={newAPIKey}>
          Create API key
        </button>
      </div>
      <h3>Access keys</h3>
      <table>
        <thead>
          <tr>
            <th>Access key ID</th>
            <th>Status</th>
            <th>Created</th>
            <th>Expires</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {p.accessKeys.length === 0 && (
            <tr>
              <td colSpan={5} className="muted">
                None.
              </td>
            </tr>
          )}
          {p.accessKeys.map((k) => (
            <tr key={k.accessKeyId}>
              <td>
                <code>{k.accessKeyId}</code>
              </td>
              <td>{k.status}</td>
              <td>{fmt.dateTime(k.createdAt)}</td>
              <td>{k.expiresAt ? fmt.dateTime(k.expiresAt) : 'never'}</td>
              <td className="row">
                <button
                  type="button"
                  onClick={() => run(() => a.setAccessKeyStatus(p.name, k.accessKeyId, k.status === 'Active' ? 'Inactive' : 'Active'))}
                >
                  {k.status === 'Active' ? 'Deactivate' : 'Activate'}
                </button>
                <button
                  type="button"
                  className="danger"
                  aria-label={`Delete access key ${k.accessKeyId}`}
                  onClick={() => confirm(`Delete access key ${k.accessKeyId}?`) && run(() => a.deleteAccessKey(p.name, k.accessKeyId))}
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>API keys</h3>
      <table>
        <thead>
          <tr>
            <th>API key ID</th>
            <th>Status</th>
            <th>Created</th>
            <th>Expires</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {p.apiKeys.length === 0 && (
            <tr>
              <td colSpan={5} className="muted">
                None.
              </td>
            </tr>
          )}
          {p.apiKeys.map((k) => (
            <tr key={k.apiKeyId}>
              <td>
                <code>{k.apiKeyId}</code>
              </td>
              <td>{k.revokedAt ? `revoked ${fmt.dateTime(k.revokedAt)}` : k.status}</td>
              <td>{fmt.dateTime(k.createdAt)}</td>
              <td>{k.expiresAt ? fmt.dateTime(k.expiresAt) : 'never'}</td>
              <td>
                {!k.revokedAt && (
                  <button
                    type="button"
                    className="danger"
                    aria-label={`Revoke API key ${k.apiKeyId}`}
                    onClick={() => confirm(`Revoke API key ${k.apiKeyId}?`) && run(() => a.revokeAPIKey(p.name, k.apiKeyId))}
                  >
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Console sessions</h3>
      <table>
        <thead>
          <tr>
            <th>Session</th>
            <th>Made from</th>
            <th>Created</th>
            <th>Expires</th>
            <th>Source</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {(p.sessions ?? []).length === 0 && (
            <tr>
              <td colSpan={6} className="muted">
                None.
              </td>
            </tr>
          )}
          {(p.sessions ?? []).map((s) => (
            <tr key={s.sessionId}>
              <td>
                <code>{s.sessionId}</code>
              </td>
              <td>
                {s.authMethod} {s.keyId}
              </td>
              <td>{fmt.dateTime(s.createdAt)}</td>
              <td>{fmt.dateTime(s.expiresAt)}</td>
              <td title={s.userAgent}>{s.sourceIp}</td>
              <td>
                <button type="button" className="danger" aria-label={`Revoke session ${s.sessionId}`} onClick={() => run(() => a.revokeSession(p.name, s.sessionId))}>
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** PolicyEditor edits one inline policy; the server validates it as on save. */
function PolicyEditor({ principal, name, initial, onSaved }: { principal: string; name?: string; initial: string; onSaved: () => void }) {
  const [policyName, setPolicyName] = useState(name ?? '');
  const [doc, setDoc] = useState(initial);
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const local = jsonError(doc);
  const validate = () => {
    if (local) {
      setMsg({ ok: false, text: local });
      return;
    }
    a.validatePolicy(doc)
      .then(() => setMsg({ ok: true, text: 'The server accepts this policy.' }))
      .catch((e: unknown) => setMsg({ ok: false, text: readableError(e) }));
  };
  const save = (e: FormEvent) => {
    e.preventDefault();
    if (!validName(policyName)) {
      setMsg({ ok: false, text: 'A policy name is 1–64 letters, digits or +=,.@_-' });
      return;
    }
    if (local) {
      setMsg({ ok: false, text: local });
      return;
    }
    a.putPolicy(principal, policyName, doc)
      .then(() => {
        setMsg({ ok: true, text: 'Saved.' });
        onSaved();
      })
      .catch((err: unknown) => setMsg({ ok: false, text: readableError(err) }));
  };
  return (
    <form className="stack" onSubmit={save} aria-label={name ? `Policy ${name}` : 'New policy'}>
      <label>
        Policy name
        <input value={policyName} onChange={(e) => setPolicyName(e.target.value)} readOnly={name !== undefined} />
      </label>
      <label>
        Policy document (JSON)
        <textarea
          className="code-editor"
          rows={14}
          spellCheck={false}
          value={doc}
          aria-invalid={local ? true : undefined}
          onChange={(e) => {
            setDoc(e.target.value);
            setMsg(null);
          }}
        />
      </label>
      {local && <p className="warn">{local}</p>}
      {msg && (
        <p role={msg.ok ? 'status' : 'alert'} className={msg.ok ? 'ok' : 'error'}>
          {msg.text}
        </p>
      )}
      <div className="row">
        <button type="button" onClick={validate}>
          Validate
        </button>
        <button type="submit" className="primary">
          Save policy
        </button>
      </div>
    </form>
  );
}

function Policies({ p, reload }: { p: PrincipalDetail; reload: () => void }) {
  const [editing, setEditing] = useState<string | null>(null);
  const [error, setError] = useState('');
  return (
    <div className="stack">
      <ErrorNote text={error} />
      {p.policies.length === 0 && <p className="muted">No inline policies: this principal can do nothing but sign in.</p>}
      {p.policies.map((pol) => (
        <details key={pol.name} open={editing === pol.name} onToggle={(e) => e.currentTarget.open && setEditing(pol.name)}>
          <summary>
            {pol.name} <span className="muted">{pol.createdAt && fmt.dateTime(pol.createdAt)}</span>
          </summary>
          <PolicyEditor principal={p.name} name={pol.name} initial={prettyDocument(pol.document)} onSaved={reload} />
          <button
            type="button"
            className="danger"
            onClick={() =>
              confirm(`Detach policy ${pol.name}?`) &&
              a
                .deletePolicy(p.name, pol.name)
                .then(reload)
                .catch((e: unknown) => setError(readableError(e)))
            }
          >
            Detach {pol.name}
          </button>
        </details>
      ))}
      <details open={editing === ''} onToggle={(e) => e.currentTarget.open && setEditing('')}>
        <summary>Attach a new policy</summary>
        <PolicyEditor key={p.name} principal={p.name} initial={POLICY_TEMPLATE} onSaved={reload} />
      </details>
    </div>
  );
}

function PrincipalView({ name }: { name: string }) {
  const d = useAsync((signal) => a.principal(name, signal), name);
  const [tab, setTab] = useState('keys');
  const [error, setError] = useState('');
  const p = d.data;
  return (
    <section className="card stack" aria-labelledby="principal-h">
      <div className="screen-head">
        <h2 id="principal-h">{name}</h2>
        {p && <code className="muted">{p.arn}</code>}
        <button
          type="button"
          className="danger"
          onClick={() =>
            confirm(`Delete principal ${name} with its keys and policies?`) &&
            a
              .deletePrincipal(name)
              .then(() => navigate('access'))
              .catch((e: unknown) => setError(readableError(e)))
          }
        >
          Delete principal
        </button>
      </div>
      <ErrorNote text={d.error || error} />
      <Tabs
        label="Principal"
        value={tab}
        onChange={setTab}
        tabs={[
          { id: 'keys', label: 'Keys and sessions' },
          { id: 'policies', label: 'Policies' },
          { id: 'audit', label: 'Audit log' },
        ]}
      />
      <div role="tabpanel">
        {p && tab === 'keys' && <Keys p={p} reload={d.reload} />}
        {p && tab === 'policies' && <Policies p={p} reload={d.reload} />}
        {tab === 'audit' && <LogTable principal={name} route="logs" />}
      </div>
    </section>
  );
}

/** Access is the principals, keys, policies and audit screen; route "access/<name>" opens one. */
export default function Access({ route }: { route: string }) {
  const selected = route.startsWith('access/') ? decodeURIComponent(route.slice('access/'.length)) : '';
  const list = useAsync((signal) => a.principals(signal), selected);
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  const create = useCallback(
    (e: FormEvent) => {
      e.preventDefault();
      const n = name.trim();
      if (!validName(n)) {
        setError('A principal name is 1–64 letters, digits or +=,.@_-');
        return;
      }
      setError('');
      a.createPrincipal(n)
        .then(() => {
          setName('');
          list.reload();
          navigate(`access/${encodeURIComponent(n)}`);
        })
        .catch((err: unknown) => setError(readableError(err)));
    },
    [name, list],
  );
  return (
    <section className="stack">
      <h1>Access</h1>
      <div className="access-grid">
        <div className="card stack">
          <h2>Principals</h2>
          <form className="row end" onSubmit={create}>
            <label className="grow">
              New principal name
              <input value={name} onChange={(e) => setName(e.target.value)} />
            </label>
            <button type="submit" className="primary">
              Create principal
            </button>
          </form>
          <ErrorNote text={list.error || error} />
          <ul className="plain-list" aria-label="Principals">
            {(list.data?.principals ?? []).map((p) => (
              <li key={p.name}>
                <a
                  href={`/console/access/${encodeURIComponent(p.name)}`}
                  aria-current={p.name === selected ? 'page' : undefined}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate(`access/${encodeURIComponent(p.name)}`);
                  }}
                >
                  {p.name}
                </a>
              </li>
            ))}
          </ul>
        </div>
        {selected ? <PrincipalView key={selected} name={selected} /> : <p className="muted">Choose a principal to see its keys, policies and audit log.</p>}
      </div>
    </section>
  );
}
