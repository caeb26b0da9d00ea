// Prompts: Bedrock prompt management — list, create and edit the DRAFT's
// text variant (template with {{variables}}, model, inference settings),
// and publish versions.
import { useState, type FormEvent } from 'react';
import { api, readableError } from '../api/client';
import { Link } from '../components/Layout';
import { ErrorNote } from '../components/ui';
import { templateVars } from '../lib/flow-def';
import * as fmt from '../lib/format';
import { navigate } from '../lib/router';
import { useAsync } from '../lib/useAsync';

const enc = encodeURIComponent;

interface PromptSummary {
  id: string;
  name: string;
  version: string;
  description?: string;
  updatedAt: string;
}

interface Variant {
  name: string;
  templateType: string;
  modelId?: string;
  templateConfiguration?: { text?: { text: string; inputVariables?: { name: string }[] } };
  inferenceConfiguration?: { text?: { maxTokens?: number; temperature?: number } };
}

interface Prompt {
  id: string;
  name: string;
  description?: string;
  version: string;
  defaultVariant?: string;
  variants?: Variant[];
  updatedAt: string;
}

/** variantOf builds a TEXT variant from the editor's fields. */
export function variantOf(text: string, modelId: string, maxTokens: number | undefined, temperature: number | undefined): Variant {
  return {
    name: 'default',
    templateType: 'TEXT',
    ...(modelId ? { modelId } : {}),
    templateConfiguration: { text: { text, inputVariables: templateVars(text).map((name) => ({ name })) } },
    ...(maxTokens !== undefined || temperature !== undefined
      ? { inferenceConfiguration: { text: { ...(maxTokens !== undefined ? { maxTokens } : {}), ...(temperature !== undefined ? { temperature } : {}) } } }
      : {}),
  };
}

function num(s: string): number | undefined {
  if (!s.trim()) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

function PromptView({ id }: { id: string }) {
  const [tick, setTick] = useState(0);
  const p = useAsync((s) => api.json<Prompt>(`/prompts/${enc(id)}/`, { signal: s }), `${id}|${tick}`);
  const versions = useAsync((s) => api.json<{ promptSummaries?: PromptSummary[] }>('/prompts/', { signal: s, query: { promptIdentifier: id } }), `${id}|${tick}`);
  const models = useAsync((s) => api.json<{ modelSummaries?: { modelId: string }[] }>('/foundation-models', { signal: s }).then((r) => (r.modelSummaries ?? []).map((m) => m.modelId)));
  const [edit, setEdit] = useState<{ text: string; model: string; maxTokens: string; temperature: string } | null>(null);
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const prompt = p.data;
  if (!prompt) return <ErrorNote text={p.error} />;
  const v = prompt.variants?.find((x) => x.name === prompt.defaultVariant) ?? prompt.variants?.[0];
  const f = edit ?? {
    text: v?.templateConfiguration?.text?.text ?? '',
    model: v?.modelId ?? '',
    maxTokens: String(v?.inferenceConfiguration?.text?.maxTokens ?? ''),
    temperature: String(v?.inferenceConfiguration?.text?.temperature ?? ''),
  };
  const set = (patch: Partial<typeof f>) => setEdit({ ...f, ...patch });
  const save = (e: FormEvent) => {
    e.preventDefault();
    api
      .json(`/prompts/${enc(id)}/`, {
        method: 'PUT',
        body: { name: prompt.name, description: prompt.description || undefined, defaultVariant: 'default', variants: [variantOf(f.text, f.model, num(f.maxTokens), num(f.temperature))] },
      })
      .then(() => {
        setMsg({ ok: true, text: 'Saved the DRAFT.' });
        setEdit(null);
        setTick((t) => t + 1);
      })
      .catch((err: unknown) => setMsg({ ok: false, text: readableError(err) }));
  };
  return (
    <section className="stack">
      <div className="screen-head">
        <h2>{prompt.name}</h2>
        <code className="muted">{prompt.id}</code>
        <button
          type="button"
          onClick={() =>
            api
              .json(`/prompts/${enc(id)}/versions`, { method: 'POST', body: {} })
              .then(() => {
                setMsg({ ok: true, text: 'Created a version.' });
                setTick((t) => t + 1);
              })
              .catch((err: unknown) => setMsg({ ok: false, text: readableError(err) }))
          }
        >
          Create version
        </button>
        <button
          type="button"
          className="danger"
          onClick={() =>
            confirm(`Delete prompt ${prompt.name}?`) &&
            api
              .json(`/prompts/${enc(id)}/`, { method: 'DELETE' })
              .then(() => navigate('prompts'))
              .catch((err: unknown) => setMsg({ ok: false, text: readableError(err) }))
          }
        >
          Delete prompt
        </button>
      </div>
      <form className="card stack" onSubmit={save} aria-label="Edit DRAFT">
        <label>
          Template ({'{{variable}}'} marks an input)
          <textarea rows={6} value={f.text} onChange={(e) => set({ text: e.target.value })} />
        </label>
        <p className="muted">Variables: {templateVars(f.text).join(', ') || 'none'}</p>
        <div className="row">
          <label>
            Prompt model
            <select value={f.model} onChange={(e) => set({ model: e.target.value })}>
              <option value="">(none)</option>
              {(models.data ?? []).map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </label>
          <label>
            Max tokens
            <input inputMode="numeric" value={f.maxTokens} onChange={(e) => set({ maxTokens: e.target.value })} />
          </label>
          <label>
            Temperature
            <input inputMode="decimal" value={f.temperature} onChange={(e) => set({ temperature: e.target.value })} />
          </label>
        </div>
        {msg && (
          <p role={msg.ok ? 'status' : 'alert'} className={msg.ok ? 'ok' : 'error'}>
            {msg.text}
          </p>
        )}
        <div>
          <button type="submit" className="primary">
            Save DRAFT
          </button>
        </div>
      </form>
      <div className="card">
        <h3>Versions</h3>
        <ErrorNote text={versions.error} />
        <table>
          <thead>
            <tr>
              <th>Version</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {(versions.data?.promptSummaries ?? []).map((s) => (
              <tr key={s.version}>
                <td>{s.version}</td>
                <td>{fmt.dateTime(s.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** Prompts is the prompts screen; route prompts/<id> opens one. */
export default function Prompts({ route }: { route: string }) {
  const id = route.startsWith('prompts/') ? decodeURIComponent(route.slice('prompts/'.length)) : '';
  const list = useAsync((s) => api.json<{ promptSummaries?: PromptSummary[] }>('/prompts/', { signal: s, query: { maxResults: 100 } }), id);
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  const create = (e: FormEvent) => {
    e.preventDefault();
    api
      .json<{ id: string }>('/prompts/', {
        method: 'POST',
        body: { name: name.trim(), defaultVariant: 'default', variants: [variantOf('Summarise in one sentence: {{text}}', '', 200, 0.2)] },
      })
      .then((r) => navigate(`prompts/${enc(r.id)}`))
      .catch((err: unknown) => setError(readableError(err)));
  };
  return (
    <section className="stack">
      <h1>Prompts</h1>
      {id ? (
        <>
          <Link route="prompts">← All prompts</Link>
          <PromptView key={id} id={id} />
        </>
      ) : (
        <>
          <form className="card row end" onSubmit={create}>
            <label className="grow">
              New prompt name
              <input value={name} onChange={(e) => setName(e.target.value)} />
            </label>
            <button type="submit" className="primary" disabled={!name.trim()}>
              Create prompt
            </button>
          </form>
          <ErrorNote text={list.error || error} />
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>ID</th>
                <th>Version</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {(list.data?.promptSummaries ?? []).length === 0 && !list.loading && (
                <tr>
                  <td colSpan={4} className="muted">
                    No prompts yet.
                  </td>
                </tr>
              )}
              {(list.data?.promptSummaries ?? []).map((p) => (
                <tr key={`${p.id}|${p.version}`}>
                  <td>
                    <Link route={`prompts/${enc(p.id)}`}>{p.name}</Link>
                  </td>
                  <td>
                    <code>{p.id}</code>
                  </td>
                  <td>{p.version}</td>
                  <td>{fmt.dateTime(p.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
