// Agents: list and create agents, prepare them, aliases, and a test chat on
// an alias (TSTALIASID for the working draft) with the agent's trace.
import { useState, type FormEvent } from 'react';
import { invokeAgent, traceStep } from '../api/agents';
import { api, readableError } from '../api/client';
import { Link } from '../components/Layout';
import { ErrorNote } from '../components/ui';
import * as fmt from '../lib/format';
import { Markdown } from '../lib/markdown-view';
import { navigate } from '../lib/router';
import { useAsync } from '../lib/useAsync';

const enc = encodeURIComponent;
const ROLE = 'arn:aws:iam::000000000000:role/outcrop-agents';

interface AgentSummary {
  agentId: string;
  agentName: string;
  agentStatus: string;
  description?: string;
  latestAgentVersion?: string;
  updatedAt: string;
}

interface Agent extends AgentSummary {
  foundationModel: string;
  instruction?: string;
  agentResourceRoleArn?: string;
  idleSessionTTLInSeconds?: number;
}

interface Turn {
  role: 'user' | 'agent';
  text: string;
  steps: { kind: string; text: string }[];
  error?: string;
}

function TestChat({ agentId, aliases }: { agentId: string; aliases: { agentAliasId: string; agentAliasName: string }[] }) {
  const [alias, setAlias] = useState('TSTALIASID');
  const [session, setSession] = useState(() => `console-${Date.now().toString(36)}`);
  const [turns, setTurns] = useState<Turn[]>([]);
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const send = (e: FormEvent) => {
    e.preventDefault();
    const input = text.trim();
    if (!input) return;
    setText('');
    setBusy(true);
    setTurns((t) => [...t, { role: 'user', text: input, steps: [] }, { role: 'agent', text: '', steps: [] }]);
    const upd = (f: (t: Turn) => Turn) => setTurns((all) => [...all.slice(0, -1), f(all[all.length - 1])]);
    (async () => {
      try {
        for await (const ev of invokeAgent(api, agentId, alias, session, input)) {
          if (ev.kind === 'chunk') upd((t) => ({ ...t, text: t.text + ev.text }));
          else if (ev.kind === 'trace') upd((t) => ({ ...t, steps: [...t.steps, traceStep(ev.trace)] }));
          else if (ev.kind === 'error') upd((t) => ({ ...t, error: `${ev.type}: ${ev.message}` }));
          else if (ev.kind === 'return-control') upd((t) => ({ ...t, steps: [...t.steps, { kind: 'returnControl', text: JSON.stringify(ev.payload).slice(0, 300) }] }));
        }
      } catch (err) {
        upd((t) => ({ ...t, error: readableError(err) }));
      } finally {
        setBusy(false);
      }
    })();
  };
  return (
    <div className="stack">
      <div className="row end">
        <label>
          Alias
          <select value={alias} onChange={(e) => setAlias(e.target.value)}>
            <option value="TSTALIASID">TSTALIASID (working draft)</option>
            {aliases.map((a) => (
              <option key={a.agentAliasId} value={a.agentAliasId}>
                {a.agentAliasName}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          onClick={() => {
            setSession(`console-${Date.now().toString(36)}`);
            setTurns([]);
          }}
        >
          New session
        </button>
        <span className="muted">session {session}</span>
      </div>
      <div className="transcript" role="log" aria-label="Agent conversation" aria-live="polite">
        {turns.map((t, i) => (
          <article key={i} className={`turn ${t.role}`}>
            <div className="who">{t.role === 'user' ? 'You' : 'Agent'}</div>
            {t.role === 'user' ? <p className="user-text">{t.text}</p> : <Markdown src={t.text} />}
            {t.error && <ErrorNote text={t.error} />}
            {t.steps.length > 0 && (
              <details>
                <summary>Trace ({t.steps.length} steps)</summary>
                <ol>
                  {t.steps.map((s, k) => (
                    <li key={k}>
                      <strong>{s.kind}</strong> <span className="muted">{s.text}</span>
                    </li>
                  ))}
                </ol>
              </details>
            )}
          </article>
        ))}
      </div>
      <form className="composer row end" onSubmit={send}>
        <label className="grow">
          Message to the agent
          <textarea rows={2} value={text} onChange={(e) => setText(e.target.value)} />
        </label>
        <button type="submit" className="primary" disabled={busy || !text.trim()}>
          Send to agent
        </button>
      </form>
    </div>
  );
}

function AgentView({ id }: { id: string }) {
  const [tick, setTick] = useState(0);
  const a = useAsync((s) => api.json<{ agent: Agent }>(`/agents/${enc(id)}/`, { signal: s }), `${id}|${tick}`);
  const aliases = useAsync((s) => api.json<{ agentAliasSummaries?: { agentAliasId: string; agentAliasName: string }[] }>(`/agents/${enc(id)}/agentaliases/`, { method: 'POST', body: {}, signal: s }), `${id}|${tick}`);
  const [instruction, setInstruction] = useState<string | null>(null);
  const [aliasName, setAliasName] = useState('');
  const [msg, setMsg] = useState('');
  const [error, setError] = useState('');
  const agent = a.data?.agent;
  const act = (p: Promise<unknown>, ok: string) =>
    p
      .then(() => {
        setMsg(ok);
        setError('');
        setTick((t) => t + 1);
      })
      .catch((e: unknown) => setError(readableError(e)));
  if (!agent) return <ErrorNote text={a.error} />;
  const instr = instruction ?? agent.instruction ?? '';
  return (
    <section className="stack">
      <div className="screen-head">
        <h2>{agent.agentName}</h2>
        <code className="muted">{agent.agentId}</code>
        <span className="badge">{agent.agentStatus}</span>
        <button type="button" onClick={() => act(api.json(`/agents/${enc(id)}/`, { method: 'POST', body: {} }), 'Prepared.')}>
          Prepare
        </button>
        <button
          type="button"
          className="danger"
          onClick={() =>
            confirm(`Delete agent ${agent.agentName}?`) &&
            api
              .json(`/agents/${enc(id)}/`, { method: 'DELETE', query: { skipResourceInUseCheck: 'true' } })
              .then(() => navigate('agents'))
              .catch((e: unknown) => setError(readableError(e)))
          }
        >
          Delete agent
        </button>
      </div>
      {msg && <p role="status">{msg}</p>}
      <ErrorNote text={error} />
      <div className="grid-2">
        <div className="card stack">
          <h3>Test</h3>
          <TestChat agentId={id} aliases={aliases.data?.agentAliasSummaries ?? []} />
        </div>
        <div className="card stack">
          <h3>Settings</h3>
          <p className="muted">Model {agent.foundationModel}</p>
          <label>
            Instruction
            <textarea rows={6} value={instr} onChange={(e) => setInstruction(e.target.value)} />
          </label>
          <button
            type="button"
            onClick={() =>
              act(
                api.json(`/agents/${enc(id)}/`, {
                  method: 'PUT',
                  body: { agentName: agent.agentName, foundationModel: agent.foundationModel, instruction: instr, agentResourceRoleArn: agent.agentResourceRoleArn || ROLE },
                }),
                'Saved the draft; prepare it to test the change.',
              )
            }
          >
            Save instruction
          </button>
          <h3>Aliases</h3>
          <ul>
            {(aliases.data?.agentAliasSummaries ?? []).map((al) => (
              <li key={al.agentAliasId}>
                {al.agentAliasName} <code>{al.agentAliasId}</code>
              </li>
            ))}
          </ul>
          <form
            className="row end"
            onSubmit={(e) => {
              e.preventDefault();
              act(api.json(`/agents/${enc(id)}/agentaliases/`, { method: 'PUT', body: { agentAliasName: aliasName.trim() } }), 'Alias created (with a new version).');
              setAliasName('');
            }}
          >
            <label className="grow">
              New alias name
              <input value={aliasName} onChange={(e) => setAliasName(e.target.value)} />
            </label>
            <button type="submit" disabled={!aliasName.trim()}>
              Create alias
            </button>
          </form>
        </div>
      </div>
    </section>
  );
}

/** Agents is the agents screen; route agents/<id> opens one. */
export default function Agents({ route }: { route: string }) {
  const id = route.startsWith('agents/') ? decodeURIComponent(route.slice('agents/'.length)) : '';
  const list = useAsync((s) => api.json<{ agentSummaries?: AgentSummary[] }>('/agents/', { method: 'POST', body: { maxResults: 100 }, signal: s }), id);
  const models = useAsync((s) => api.json<{ modelSummaries?: { modelId: string }[] }>('/foundation-models', { signal: s }).then((r) => (r.modelSummaries ?? []).map((m) => m.modelId)));
  const [name, setName] = useState('');
  const [model, setModel] = useState('');
  const [instruction, setInstruction] = useState('You are a helpful assistant. Answer briefly.');
  const [error, setError] = useState('');
  const create = (e: FormEvent) => {
    e.preventDefault();
    api
      .json<{ agent: { agentId: string } }>('/agents/', {
        method: 'PUT',
        body: { agentName: name.trim(), foundationModel: model || models.data?.[0], instruction, agentResourceRoleArn: ROLE },
      })
      .then((r) => navigate(`agents/${enc(r.agent.agentId)}`))
      .catch((err: unknown) => setError(readableError(err)));
  };
  return (
    <section className="stack">
      <h1>Agents</h1>
      {id ? (
        <>
          <Link route="agents">← All agents</Link>
          <AgentView key={id} id={id} />
        </>
      ) : (
        <>
          <form className="card stack" onSubmit={create} aria-label="New agent">
            <div className="row">
              <label>
                New agent name
                <input value={name} onChange={(e) => setName(e.target.value)} />
              </label>
              <label>
                Agent model
                <select value={model || models.data?.[0] || ''} onChange={(e) => setModel(e.target.value)}>
                  {(models.data ?? []).map((m) => (
                    <option key={m}>{m}</option>
                  ))}
                </select>
              </label>
            </div>
            <label>
              Agent instruction
              <textarea rows={2} value={instruction} onChange={(e) => setInstruction(e.target.value)} />
            </label>
            <div>
              <button type="submit" className="primary" disabled={!name.trim()}>
                Create agent
              </button>
            </div>
          </form>
          <ErrorNote text={list.error || error} />
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>ID</th>
                <th>Status</th>
                <th>Latest version</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {(list.data?.agentSummaries ?? []).length === 0 && !list.loading && (
                <tr>
                  <td colSpan={5} className="muted">
                    No agents yet.
                  </td>
                </tr>
              )}
              {(list.data?.agentSummaries ?? []).map((a) => (
                <tr key={a.agentId}>
                  <td>
                    <Link route={`agents/${enc(a.agentId)}`}>{a.agentName}</Link>
                  </td>
                  <td>
                    <code>{a.agentId}</code>
                  </td>
                  <td>{a.agentStatus}</td>
                  <td>{a.latestAgentVersion ?? ''}</td>
                  <td>{fmt.dateTime(a.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
