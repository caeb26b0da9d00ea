// Knowledge bases: list and create, data sources, document upload (in-line
// text into a CUSTOM data source) with ingestion progress, and a retrieve
// test box whose results render as sanitised Markdown.
import { useEffect, useState, type FormEvent } from 'react';
import { api, readableError } from '../api/client';
import { Link } from '../components/Layout';
import { ErrorNote } from '../components/ui';
import * as fmt from '../lib/format';
import { documentId, ingestBody, jobActive, jobProgress, retrieveBody, type IngestionJob } from '../lib/kb';
import { Markdown } from '../lib/markdown-view';
import { navigate } from '../lib/router';
import { useAsync } from '../lib/useAsync';

const enc = encodeURIComponent;
const ROLE = 'arn:aws:iam::000000000000:role/outcrop-kb';

interface KBSummary {
  knowledgeBaseId: string;
  name: string;
  status: string;
  description?: string;
  updatedAt: string;
}

interface DataSource {
  dataSourceId: string;
  name: string;
  status: string;
}

interface RetrievalResult {
  content: { text?: string };
  score?: number;
  location?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

function DataSourcePanel({ kb, ds }: { kb: string; ds: DataSource }) {
  const base = `/knowledgebases/${enc(kb)}/datasources/${enc(ds.dataSourceId)}`;
  const [tick, setTick] = useState(0);
  const jobs = useAsync((s) => api.json<{ ingestionJobSummaries?: IngestionJob[] }>(`${base}/ingestionjobs/`, { method: 'POST', body: { maxResults: 20 }, signal: s }), `${base}|${tick}`);
  const active = (jobs.data?.ingestionJobSummaries ?? []).some(jobActive);
  useEffect(() => {
    if (!active) return;
    const t = setTimeout(() => setTick((x) => x + 1), 1500);
    return () => clearTimeout(t);
  }, [active, tick]);
  const [msg, setMsg] = useState('');
  const [error, setError] = useState('');
  const upload = async (files: FileList | null) => {
    if (!files?.length) return;
    setError('');
    try {
      const docs = await Promise.all([...files].map(async (f) => ({ id: documentId(f.name), text: await f.text() })));
      await api.json(`${base}/documents`, { method: 'PUT', body: ingestBody(docs) });
      setMsg(`Sent ${docs.length} document${docs.length === 1 ? '' : 's'} for ingestion.`);
      setTick((x) => x + 1);
    } catch (e) {
      setError(readableError(e));
    }
  };
  return (
    <div className="stack">
      <h4>
        {ds.name} <span className="muted">({ds.dataSourceId}, {ds.status})</span>
      </h4>
      <div className="row end">
        <label>
          Upload text documents
          <input type="file" multiple accept=".txt,.md,.csv,.json,.html,text/*" onChange={(e) => void upload(e.target.files)} />
        </label>
        <button
          type="button"
          onClick={() =>
            api
              .json(`${base}/ingestionjobs/`, { method: 'PUT', body: {} })
              .then(() => setTick((x) => x + 1))
              .catch((e: unknown) => setError(readableError(e)))
          }
        >
          Start ingestion job
        </button>
      </div>
      {msg && <p role="status">{msg}</p>}
      <ErrorNote text={jobs.error || error} />
      <table>
        <thead>
          <tr>
            <th>Job</th>
            <th>Status</th>
            <th>Progress</th>
            <th>Statistics</th>
            <th>Updated</th>
          </tr>
        </thead>
        <tbody>
          {(jobs.data?.ingestionJobSummaries ?? []).map((j) => {
            const p = jobProgress(j);
            return (
              <tr key={j.ingestionJobId}>
                <td>
                  <code>{j.ingestionJobId}</code>
                </td>
                <td>{j.status}</td>
                <td>
                  <progress max={1} value={p ?? undefined} aria-label={`Ingestion job ${j.ingestionJobId}`} />
                </td>
                <td className="muted">
                  {Object.entries(j.statistics ?? {})
                    .filter(([, v]) => v)
                    .map(([k, v]) => `${k.replace(/^numberOf/, '')} ${v}`)
                    .join(', ')}
                </td>
                <td>{fmt.dateTime(j.updatedAt ?? j.startedAt)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function RetrieveBox({ kb }: { kb: string }) {
  const [q, setQ] = useState('');
  const [n, setN] = useState('5');
  const [type, setType] = useState<'' | 'HYBRID' | 'SEMANTIC'>('');
  const [res, setRes] = useState<RetrievalResult[] | null>(null);
  const [error, setError] = useState('');
  const run = (e: FormEvent) => {
    e.preventDefault();
    setError('');
    api
      .json<{ retrievalResults: RetrievalResult[] }>(`/knowledgebases/${enc(kb)}/retrieve`, { method: 'POST', body: retrieveBody(q, Number(n) || 5, type) })
      .then((r) => setRes(r.retrievalResults ?? []))
      .catch((err: unknown) => setError(readableError(err)));
  };
  return (
    <form className="stack" onSubmit={run} aria-label="Retrieve test">
      <div className="row end">
        <label className="grow">
          Query
          <input value={q} onChange={(e) => setQ(e.target.value)} />
        </label>
        <label>
          Results
          <input inputMode="numeric" value={n} onChange={(e) => setN(e.target.value)} />
        </label>
        <label>
          Search type
          <select value={type} onChange={(e) => setType(e.target.value as '' | 'HYBRID' | 'SEMANTIC')}>
            <option value="">default</option>
            <option value="SEMANTIC">semantic</option>
            <option value="HYBRID">hybrid</option>
          </select>
        </label>
        <button type="submit" className="primary" disabled={!q.trim()}>
          Retrieve
        </button>
      </div>
      <ErrorNote text={error} />
      {res && (
        <ol className="stack" data-testid="retrieve-results">
          {res.length === 0 && <li className="muted">No results.</li>}
          {res.map((r, i) => (
            <li key={i} className="card">
              <div className="muted">
                score {r.score?.toFixed(4) ?? '–'} · {JSON.stringify(r.location ?? {})}
              </div>
              <Markdown src={r.content.text ?? ''} />
            </li>
          ))}
        </ol>
      )}
    </form>
  );
}

function KBView({ id }: { id: string }) {
  const [tick, setTick] = useState(0);
  const kb = useAsync((s) => api.json<{ knowledgeBase: KBSummary & { knowledgeBaseConfiguration?: unknown } }>(`/knowledgebases/${enc(id)}`, { signal: s }), id);
  const ds = useAsync((s) => api.json<{ dataSourceSummaries?: DataSource[] }>(`/knowledgebases/${enc(id)}/datasources/`, { method: 'POST', body: {}, signal: s }), `${id}|${tick}`);
  const [name, setName] = useState('uploads');
  const [error, setError] = useState('');
  return (
    <section className="stack">
      <div className="screen-head">
        <h2>{kb.data?.knowledgeBase.name ?? id}</h2>
        <code className="muted">{id}</code>
        {kb.data && <span className="badge">{kb.data.knowledgeBase.status}</span>}
      </div>
      <ErrorNote text={kb.error || ds.error || error} />
      <div className="card stack">
        <h3>Retrieve</h3>
        <RetrieveBox kb={id} />
      </div>
      <div className="card stack">
        <h3>Data sources</h3>
        {(ds.data?.dataSourceSummaries ?? []).map((d) => (
          <DataSourcePanel key={d.dataSourceId} kb={id} ds={d} />
        ))}
        <form
          className="row end"
          onSubmit={(e) => {
            e.preventDefault();
            api
              .json(`/knowledgebases/${enc(id)}/datasources/`, { method: 'PUT', body: { name: name.trim(), dataSourceConfiguration: { type: 'CUSTOM' } } })
              .then(() => setTick((x) => x + 1))
              .catch((err: unknown) => setError(readableError(err)));
          }}
        >
          <label>
            New data source name
            <input value={name} onChange={(e) => setName(e.target.value)} />
          </label>
          <button type="submit" disabled={!name.trim()}>
            Add custom data source
          </button>
        </form>
      </div>
    </section>
  );
}

/** KnowledgeBases is the knowledge-bases screen; route knowledge-bases/<id> opens one. */
export default function KnowledgeBases({ route }: { route: string }) {
  const id = route.startsWith('knowledge-bases/') ? decodeURIComponent(route.slice('knowledge-bases/'.length)) : '';
  const list = useAsync((s) => api.json<{ knowledgeBaseSummaries?: KBSummary[] }>('/knowledgebases/', { method: 'POST', body: { maxResults: 100 }, signal: s }), id);
  const [name, setName] = useState('');
  const [embed, setEmbed] = useState('arn:aws:bedrock:us-east-1::foundation-model/all-minilm-l6-v2');
  const [error, setError] = useState('');
  const create = (e: FormEvent) => {
    e.preventDefault();
    api
      .json<{ knowledgeBase: { knowledgeBaseId: string } }>('/knowledgebases/', {
        method: 'PUT',
        body: {
          name: name.trim(),
          roleArn: ROLE,
          knowledgeBaseConfiguration: { type: 'VECTOR', vectorKnowledgeBaseConfiguration: { embeddingModelArn: embed.trim() } },
        },
      })
      .then((r) => navigate(`knowledge-bases/${enc(r.knowledgeBase.knowledgeBaseId)}`))
      .catch((err: unknown) => setError(readableError(err)));
  };
  return (
    <section className="stack">
      <h1>Knowledge bases</h1>
      {id ? (
        <>
          <Link route="knowledge-bases">← All knowledge bases</Link>
          <KBView key={id} id={id} />
        </>
      ) : (
        <>
          <form className="card row end" onSubmit={create}>
            <label>
              New knowledge base name
              <input value={name} onChange={(e) => setName(e.target.value)} />
            </label>
            <label className="grow">
              Embedding model ARN
              <input value={embed} onChange={(e) => setEmbed(e.target.value)} />
            </label>
            <button type="submit" className="primary" disabled={!name.trim()}>
              Create knowledge base
            </button>
          </form>
          <ErrorNote text={list.error || error} />
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>ID</th>
                <th>Status</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {(list.data?.knowledgeBaseSummaries ?? []).length === 0 && !list.loading && (
                <tr>
                  <td colSpan={4} className="muted">
                    No knowledge bases yet.
                  </td>
                </tr>
              )}
              {(list.data?.knowledgeBaseSummaries ?? []).map((k) => (
                <tr key={k.knowledgeBaseId}>
                  <td>
                    <Link route={`knowledge-bases/${enc(k.knowledgeBaseId)}`}>{k.name}</Link>
                  </td>
                  <td>
                    <code>{k.knowledgeBaseId}</code>
                  </td>
                  <td>{k.status}</td>
                  <td>{fmt.dateTime(k.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
