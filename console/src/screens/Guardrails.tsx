// Guardrails: list, create and edit the DRAFT, publish versions, and a test
// box that runs ApplyGuardrail on any version and shows every assessment.
import { useState, type FormEvent } from 'react';
import { api, readableError } from '../api/client';
import { ErrorNote } from '../components/ui';
import { assessmentActions } from '../lib/chat-state';
import * as fmt from '../lib/format';
import {
  CONTENT_TYPES,
  definitionOf,
  emptyForm,
  formErrors,
  formFromGuardrail,
  PII_TYPES,
  STRENGTHS,
  type GuardrailForm,
} from '../lib/guardrail-form';
import { navigate } from '../lib/router';
import { useAsync } from '../lib/useAsync';
import { Link } from '../components/Layout';

interface Summary {
  id: string;
  arn: string;
  name: string;
  description?: string;
  status: string;
  version: string;
  createdAt: string;
  updatedAt: string;
}

interface ApplyResult {
  action: string;
  actionReason?: string;
  outputs: { text: string }[];
  assessments: Record<string, unknown>[];
  usage?: Record<string, number>;
}

const enc = encodeURIComponent;

function Editor({ id, onSaved }: { id?: string; onSaved: (id: string) => void }) {
  const g = useAsync((signal) => (id ? api.json<unknown>(`/guardrails/${enc(id)}`, { signal, query: { guardrailVersion: 'DRAFT' } }) : Promise.resolve(null)), id ?? 'new');
  const [form, setForm] = useState<GuardrailForm | null>(null);
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const f = form ?? (id ? (g.data ? formFromGuardrail(g.data) : null) : emptyForm());
  if (!f) return <p aria-busy="true">{g.error ? <span className="error">{g.error}</span> : 'Loading…'}</p>;
  const set = (patch: Partial<GuardrailForm>) => setForm({ ...f, ...patch });
  const errors = formErrors(f);
  const save = (e: FormEvent) => {
    e.preventDefault();
    if (errors.length) {
      setMsg({ ok: false, text: errors.join(' ') });
      return;
    }
    const body = definitionOf(f);
    const req = id
      ? api.json<{ guardrailId: string }>(`/guardrails/${enc(id)}`, { method: 'PUT', body })
      : api.json<{ guardrailId: string }>('/guardrails', { method: 'POST', body });
    req
      .then((r) => {
        setMsg({ ok: true, text: id ? 'Saved the DRAFT.' : 'Created.' });
        onSaved(r.guardrailId);
      })
      .catch((err: unknown) => setMsg({ ok: false, text: readableError(err) }));
  };
  return (
    <form className="stack" onSubmit={save} aria-label={id ? 'Edit DRAFT' : 'New guardrail'}>
      <div className="row">
        <label>
          Name
          <input value={f.name} onChange={(e) => set({ name: e.target.value })} required />
        </label>
        <label className="grow">
          Description
          <input value={f.description} onChange={(e) => set({ description: e.target.value })} />
        </label>
      </div>
      <div className="row">
        <label>
          Blocked input message
          <input value={f.blockedInputMessaging} onChange={(e) => set({ blockedInputMessaging: e.target.value })} />
        </label>
        <label>
          Blocked output message
          <input value={f.blockedOutputsMessaging} onChange={(e) => set({ blockedOutputsMessaging: e.target.value })} />
        </label>
      </div>
      <fieldset>
        <legend>Content filters</legend>
        <table>
          <thead>
            <tr>
              <th>Category</th>
              <th>Input strength</th>
              <th>Output strength</th>
            </tr>
          </thead>
          <tbody>
            {CONTENT_TYPES.map((t) => (
              <tr key={t}>
                <th scope="row">{t}</th>
                {(['input', 'output'] as const).map((side) => (
                  <td key={side}>
                    <select
                      aria-label={`${t} ${side} strength`}
                      value={f.content[t]?.[side] ?? 'NONE'}
                      disabled={t === 'PROMPT_ATTACK' && side === 'output'}
                      onChange={(e) => set({ content: { ...f.content, [t]: { ...(f.content[t] ?? { input: 'NONE', output: 'NONE' }), [side]: e.target.value } } })}
                    >
                      {STRENGTHS.map((s) => (
                        <option key={s}>{s}</option>
                      ))}
                    </select>
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </fieldset>
      <fieldset>
        <legend>Denied topics</legend>
        {f.topics.map((t, i) => (
          <div key={i} className="row topic">
            <label>
              {`Topic ${i + 1} name`}
              <input value={t.name} onChange={(e) => set({ topics: f.topics.map((x, k) => (k === i ? { ...x, name: e.target.value } : x)) })} />
            </label>
            <label className="grow">
              {`Topic ${i + 1} definition`}
              <input value={t.definition} onChange={(e) => set({ topics: f.topics.map((x, k) => (k === i ? { ...x, definition: e.target.value } : x)) })} />
            </label>
            <label className="grow">
              {`Topic ${i + 1} examples (one per line)`}
              <textarea rows={2} value={t.examples} onChange={(e) => set({ topics: f.topics.map((x, k) => (k === i ? { ...x, examples: e.target.value } : x)) })} />
            </label>
            <button type="button" aria-label={`Remove topic ${i + 1}`} onClick={() => set({ topics: f.topics.filter((_, k) => k !== i) })}>
              Remove
            </button>
          </div>
        ))}
        <button type="button" onClick={() => set({ topics: [...f.topics, { name: '', definition: '', examples: '' }] })}>
          Add denied topic
        </button>
      </fieldset>
      <fieldset>
        <legend>Word filters</legend>
        <label>
          Blocked words and phrases (one per line or comma-separated)
          <textarea rows={2} value={f.words} onChange={(e) => set({ words: e.target.value })} />
        </label>
        <label className="inline">
          <input type="checkbox" checked={f.profanity} onChange={(e) => set({ profanity: e.target.checked })} />
          Block profanity (managed list)
        </label>
      </fieldset>
      <fieldset>
        <legend>Sensitive information</legend>
        <div className="pii-grid">
          {PII_TYPES.map((t) => (
            <label key={t}>
              {t}
              <select value={f.pii[t] ?? ''} onChange={(e) => set({ pii: { ...f.pii, [t]: e.target.value as '' | 'BLOCK' | 'ANONYMIZE' } })}>
                <option value="">off</option>
                <option value="BLOCK">block</option>
                <option value="ANONYMIZE">mask</option>
              </select>
            </label>
          ))}
        </div>
        {f.regexes.map((r, i) => (
          <div key={i} className="row">
            <label>
              {`Regex ${i + 1} name`}
              <input value={r.name} onChange={(e) => set({ regexes: f.regexes.map((x, k) => (k === i ? { ...x, name: e.target.value } : x)) })} />
            </label>
            <label className="grow">
              {`Regex ${i + 1} pattern`}
              <input value={r.pattern} onChange={(e) => set({ regexes: f.regexes.map((x, k) => (k === i ? { ...x, pattern: e.target.value } : x)) })} />
            </label>
            <label>
              {`Regex ${i + 1} action`}
              <select
                value={r.action}
                onChange={(e) => set({ regexes: f.regexes.map((x, k) => (k === i ? { ...x, action: e.target.value === 'ANONYMIZE' ? 'ANONYMIZE' : 'BLOCK' } : x)) })}
              >
                <option value="BLOCK">block</option>
                <option value="ANONYMIZE">mask</option>
              </select>
            </label>
            <button type="button" aria-label={`Remove regex ${i + 1}`} onClick={() => set({ regexes: f.regexes.filter((_, k) => k !== i) })}>
              Remove
            </button>
          </div>
        ))}
        <button type="button" onClick={() => set({ regexes: [...f.regexes, { name: '', pattern: '', action: 'BLOCK' }] })}>
          Add regex
        </button>
      </fieldset>
      <fieldset>
        <legend>Contextual grounding</legend>
        <div className="row">
          <label>
            Grounding threshold (0–0.99)
            <input inputMode="decimal" value={f.grounding} onChange={(e) => set({ grounding: e.target.value })} />
          </label>
          <label>
            Relevance threshold (0–0.99)
            <input inputMode="decimal" value={f.relevance} onChange={(e) => set({ relevance: e.target.value })} />
          </label>
        </div>
      </fieldset>
      {errors.length > 0 && (
        <ul className="warn">
          {errors.map((e) => (
            <li key={e}>{e}</li>
          ))}
        </ul>
      )}
      {msg && (
        <p role={msg.ok ? 'status' : 'alert'} className={msg.ok ? 'ok' : 'error'}>
          {msg.text}
        </p>
      )}
      <div>
        <button type="submit" className="primary">
          {id ? 'Save DRAFT' : 'Create guardrail'}
        </button>
      </div>
    </form>
  );
}

function Versions({ id, onChange, tick }: { id: string; onChange: () => void; tick: number }) {
  const v = useAsync((signal) => api.json<{ guardrails: Summary[] }>('/guardrails', { signal, query: { guardrailIdentifier: id } }), `${id}|${tick}`);
  const [desc, setDesc] = useState('');
  const [error, setError] = useState('');
  const publish = () => {
    setError('');
    api
      .json<{ version: string }>(`/guardrails/${enc(id)}`, { method: 'POST', body: desc.trim() ? { description: desc.trim() } : {} })
      .then(() => {
        setDesc('');
        v.reload();
        onChange();
      })
      .catch((e: unknown) => setError(readableError(e)));
  };
  return (
    <div className="stack">
      <ErrorNote text={v.error || error} />
      <table>
        <thead>
          <tr>
            <th>Version</th>
            <th>Status</th>
            <th>Description</th>
            <th>Updated</th>
          </tr>
        </thead>
        <tbody>
          {(v.data?.guardrails ?? []).map((g) => (
            <tr key={g.version}>
              <td>{g.version}</td>
              <td>{g.status}</td>
              <td>{g.description ?? ''}</td>
              <td>{fmt.dateTime(g.updatedAt || g.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="row end">
        <label className="grow">
          Version description
          <input value={desc} onChange={(e) => setDesc(e.target.value)} />
        </label>
        <button type="button" onClick={publish}>
          Create version from DRAFT
        </button>
      </div>
    </div>
  );
}

/** TestBox runs ApplyGuardrail and lists every assessment. */
function TestBox({ id, versions }: { id: string; versions: string[] }) {
  const [text, setText] = useState('');
  const [source, setSource] = useState<'INPUT' | 'OUTPUT'>('INPUT');
  const [version, setVersion] = useState('DRAFT');
  const [res, setRes] = useState<ApplyResult | null>(null);
  const [error, setError] = useState('');
  const run = (e: FormEvent) => {
    e.preventDefault();
    setError('');
    api
      .json<ApplyResult>(`/guardrail/${enc(id)}/version/${enc(version)}/apply`, {
        method: 'POST',
        body: { source, content: [{ text: { text } }], outputScope: 'FULL' },
      })
      .then(setRes)
      .catch((err: unknown) => {
        setRes(null);
        setError(readableError(err));
      });
  };
  return (
    <form className="stack" onSubmit={run} aria-label="Test guardrail">
      <div className="row">
        <label>
          Version
          <select value={version} onChange={(e) => setVersion(e.target.value)}>
            {['DRAFT', ...versions.filter((v) => v !== 'DRAFT')].map((v) => (
              <option key={v}>{v}</option>
            ))}
          </select>
        </label>
        <label>
          Source
          <select value={source} onChange={(e) => setSource(e.target.value === 'OUTPUT' ? 'OUTPUT' : 'INPUT')}>
            <option value="INPUT">INPUT (a prompt)</option>
            <option value="OUTPUT">OUTPUT (a model answer)</option>
          </select>
        </label>
      </div>
      <label>
        Text to test
        <textarea rows={4} value={text} onChange={(e) => setText(e.target.value)} />
      </label>
      <div>
        <button type="submit" className="primary" disabled={!text.trim()}>
          Test
        </button>
      </div>
      <ErrorNote text={error} />
      {res && (
        <div className="stack" data-testid="guardrail-result" aria-live="polite">
          <p>
            Action:{' '}
            <strong className={res.action === 'GUARDRAIL_INTERVENED' ? 'error' : 'ok'}>{res.action}</strong>
            {res.actionReason && <span className="muted"> — {res.actionReason}</span>}
          </p>
          {res.outputs?.length > 0 && (
            <>
              <div className="muted">Output</div>
              <pre className="excerpt">{res.outputs.map((o) => o.text).join('\n')}</pre>
            </>
          )}
          <table>
            <caption className="sr-only">Assessments</caption>
            <thead>
              <tr>
                <th>Policy</th>
                <th>Action</th>
                <th>Finding</th>
              </tr>
            </thead>
            <tbody>
              {res.assessments.flatMap((a) => assessmentActions(a)).length === 0 && (
                <tr>
                  <td colSpan={3} className="muted">
                    No policy matched.
                  </td>
                </tr>
              )}
              {res.assessments
                .flatMap((a) => assessmentActions(a))
                .map((x, i) => (
                  <tr key={i}>
                    <td>{x.policy}</td>
                    <td>{x.action}</td>
                    <td>{x.detail}</td>
                  </tr>
                ))}
            </tbody>
          </table>
          <details>
            <summary>Raw assessments</summary>
            <pre>{JSON.stringify(res.assessments, null, 2)}</pre>
          </details>
        </div>
      )}
    </form>
  );
}

function GuardrailView({ id }: { id: string }) {
  const [tick, setTick] = useState(0);
  const v = useAsync((signal) => api.json<{ guardrails: Summary[] }>('/guardrails', { signal, query: { guardrailIdentifier: id } }), `${id}|${tick}`);
  const [error, setError] = useState('');
  const name = v.data?.guardrails.find((g) => g.version === 'DRAFT')?.name ?? id;
  const del = () => {
    if (!confirm(`Delete guardrail ${name} and all its versions?`)) return;
    api
      .json<void>(`/guardrails/${enc(id)}`, { method: 'DELETE' })
      .then(() => navigate('guardrails'))
      .catch((e: unknown) => setError(readableError(e)));
  };
  return (
    <div className="stack">
      <div className="screen-head">
        <h2>{name}</h2>
        <code className="muted">{id}</code>
        <button type="button" className="danger" onClick={del}>
          Delete guardrail
        </button>
      </div>
      <ErrorNote text={error} />
      <div className="grid-2">
        <section className="card" aria-labelledby="gr-test">
          <h3 id="gr-test">Test</h3>
          <TestBox id={id} versions={(v.data?.guardrails ?? []).map((g) => g.version)} />
        </section>
        <section className="card" aria-labelledby="gr-versions">
          <h3 id="gr-versions">Versions</h3>
          <Versions id={id} tick={tick} onChange={() => setTick((t) => t + 1)} />
        </section>
      </div>
      <section className="card" aria-labelledby="gr-draft">
        <h3 id="gr-draft">DRAFT</h3>
        <Editor key={`${id}|${tick}`} id={id} onSaved={() => setTick((t) => t + 1)} />
      </section>
    </div>
  );
}

/** Guardrails is the guardrails screen; routes guardrails/new and guardrails/<id>. */
export default function Guardrails({ route }: { route: string }) {
  const sub = route.startsWith('guardrails/') ? decodeURIComponent(route.slice('guardrails/'.length)) : '';
  const list = useAsync((signal) => api.json<{ guardrails: Summary[] }>('/guardrails', { signal, query: { maxResults: 100 } }), sub);
  return (
    <section className="stack">
      <div className="screen-head">
        <h1>Guardrails</h1>
        <Link route="guardrails/new" className="button-link">
          New guardrail
        </Link>
      </div>
      <ErrorNote text={list.error} />
      {!sub && (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>ID</th>
              <th>Status</th>
              <th>Description</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {(list.data?.guardrails ?? []).length === 0 && !list.loading && (
              <tr>
                <td colSpan={5} className="muted">
                  No guardrails yet.
                </td>
              </tr>
            )}
            {(list.data?.guardrails ?? []).map((g) => (
              <tr key={g.id}>
                <td>
                  <Link route={`guardrails/${enc(g.id)}`}>{g.name}</Link>
                </td>
                <td>
                  <code>{g.id}</code>
                </td>
                <td>{g.status}</td>
                <td>{g.description ?? ''}</td>
                <td>{fmt.dateTime(g.updatedAt || g.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {sub === 'new' && (
        <section className="card">
          <h2>New guardrail</h2>
          <Editor onSaved={(id) => navigate(`guardrails/${enc(id)}`)} />
        </section>
      )}
      {sub && sub !== 'new' && <GuardrailView key={sub} id={sub} />}
    </section>
  );
}
