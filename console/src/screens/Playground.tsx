// Playground: streaming chat through ConverseStream (or the OpenAI chat
// stream), with per-answer latency figures, compare mode and "show code".
import { useCallback, useRef, useState, type FormEvent } from 'react';
import { api, readableError } from '../api/client';
import { chatStream, converseStream, type ChatRequest, type StreamEvent } from '../api/converse';
import { CodeBlock, ErrorNote, Tabs } from '../components/ui';
import { applyEvent, finish, guardrailActions, history, type Turn } from '../lib/chat-state';
import * as fmt from '../lib/format';
import { Markdown } from '../lib/markdown-view';
import { Timer } from '../lib/metrics';
import { snippets } from '../lib/snippets';
import { useAsync } from '../lib/useAsync';

interface ModelSummary {
  modelId: string;
  modelName?: string;
  providerName?: string;
}

interface GuardrailSummary {
  id: string;
  name: string;
  version: string;
}

/** PaneConfig is what differs between the two sides of compare mode. */
interface PaneConfig {
  modelId: string;
  latency: 'standard' | 'optimized';
}

type ApiKind = 'converse' | 'openai';

/** parseNum reads an optional number field; "" is unset. */
export function parseNum(s: string): number | undefined {
  if (s.trim() === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

function Metrics({ t }: { t: Turn }) {
  const m = t.metrics;
  const u = t.usage;
  const actions = guardrailActions(t.guardrailTrace);
  return (
    <div className="metrics" data-testid="answer-metrics" aria-label="Answer metrics">
      <span>TTFT {fmt.ms(m?.ttftMs)}</span>
      <span>{fmt.rate(m?.otps)}</span>
      <span>E2E {fmt.ms(m?.e2eMs)}</span>
      {u && (
        <span>
          tokens {fmt.count(u.inputTokens)} in / {fmt.count(u.outputTokens)} out
        </span>
      )}
      {u && (u.cacheReadInputTokens !== undefined || u.cacheWriteInputTokens !== undefined) && (
        <span>
          cache read {fmt.count(u.cacheReadInputTokens ?? 0)} / write {fmt.count(u.cacheWriteInputTokens ?? 0)}
        </span>
      )}
      {t.stopReason && <span>stop {t.stopReason}</span>}
      {t.profile && <span>profile {t.profile}</span>}
      {actions.length > 0 && (
        <span className="guardrail-actions">
          guardrail: {actions.map((a) => `${a.where} ${a.policy} ${a.action}${a.detail ? ` (${a.detail})` : ''}`).join('; ')}
        </span>
      )}
    </div>
  );
}

function Transcript({ turns, label }: { turns: Turn[]; label: string }) {
  return (
    <div className="transcript" role="log" aria-label={label} aria-live="polite">
      {turns.length === 0 && <p className="muted">No messages yet.</p>}
      {turns.map((t, i) => (
        <article key={i} className={`turn ${t.role}`} aria-label={t.role === 'user' ? 'You' : 'Answer'}>
          <div className="who">{t.role === 'user' ? 'You' : 'Model'}</div>
          {t.role === 'user' ? <p className="user-text">{t.text}</p> : <Markdown src={t.text} />}
          {t.streaming && <span className="cursor" aria-label="Streaming" />}
          {t.error && <ErrorNote text={t.error} />}
          {t.role === 'assistant' && !t.streaming && <Metrics t={t} />}
        </article>
      ))}
    </div>
  );
}

function PanePicker({
  idx,
  cfg,
  models,
  onChange,
}: {
  idx: number;
  cfg: PaneConfig;
  models: ModelSummary[];
  onChange: (c: PaneConfig) => void;
}) {
  const suffix = idx === 0 ? '' : ` ${idx + 1}`;
  return (
    <div className="row">
      <label>
        {`Model${suffix}`}
        <select value={cfg.modelId} onChange={(e) => onChange({ ...cfg, modelId: e.target.value })}>
          {models.length === 0 && <option value="">(no models)</option>}
          {models.map((m) => (
            <option key={m.modelId} value={m.modelId}>
              {m.modelName && m.modelName !== m.modelId ? `${m.modelName} — ${m.modelId}` : m.modelId}
            </option>
          ))}
        </select>
      </label>
      <label>
        {`Latency profile${suffix}`}
        <select
          value={cfg.latency}
          onChange={(e) => onChange({ ...cfg, latency: e.target.value === 'optimized' ? 'optimized' : 'standard' })}
        >
          <option value="standard">standard</option>
          <option value="optimized">optimized</option>
        </select>
      </label>
    </div>
  );
}

/** Playground is the chat playground screen. */
export function Playground() {
  const models = useAsync(
    (signal) =>
      api
        .json<{ modelSummaries?: ModelSummary[] }>('/foundation-models', { signal })
        .then((r) => r.modelSummaries ?? []),
  );
  const guardrails = useAsync(
    (signal) =>
      api
        .json<{ guardrails?: GuardrailSummary[] }>('/guardrails', { signal })
        .then((r) => r.guardrails ?? [])
        .catch(() => [] as GuardrailSummary[]),
  );
  const modelList = models.data ?? [];
  const firstModel = modelList[0]?.modelId ?? '';

  const [compare, setCompare] = useState(false);
  const [panes, setPanes] = useState<PaneConfig[]>([
    { modelId: '', latency: 'standard' },
    { modelId: '', latency: 'optimized' },
  ]);
  const [turns, setTurns] = useState<Turn[][]>([[], []]);
  const [message, setMessage] = useState('');
  const [system, setSystem] = useState('');
  const [maxTokens, setMaxTokens] = useState('512');
  const [temperature, setTemperature] = useState('');
  const [topP, setTopP] = useState('');
  const [stops, setStops] = useState('');
  const [guardrail, setGuardrail] = useState('');
  const [cacheSystem, setCacheSystem] = useState(false);
  const [cacheHistory, setCacheHistory] = useState(false);
  const [apiKind, setApiKind] = useState<ApiKind>('converse');
  const [busy, setBusy] = useState(false);
  const [showCode, setShowCode] = useState(false);
  const [codeTab, setCodeTab] = useState('boto3');
  const aborts = useRef<AbortController[]>([]);

  const paneModel = (i: number) => panes[i].modelId || firstModel;
  const active = compare ? [0, 1] : [0];

  const buildRequest = useCallback(
    (i: number, conv: Turn[], text: string): ChatRequest => {
      const [gid, gver] = guardrail ? guardrail.split('@') : ['', ''];
      return {
        modelId: panes[i].modelId || firstModel,
        latency: panes[i].latency,
        messages: history([...conv, { role: 'user', text }], cacheHistory),
        system: system.trim() || undefined,
        systemCachePoint: cacheSystem,
        inference: {
          maxTokens: parseNum(maxTokens),
          temperature: parseNum(temperature),
          topP: parseNum(topP),
          stopSequences: stops
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        },
        guardrail: gid ? { id: gid, version: gver || 'DRAFT', trace: true } : undefined,
      };
    },
    [panes, firstModel, cacheHistory, system, cacheSystem, maxTokens, temperature, topP, stops, guardrail],
  );

  const runPane = async (i: number, req: ChatRequest, signal: AbortSignal) => {
    const timer = new Timer();
    let err: string | undefined;
    let stopReason = '';
    let usage = null;
    let serverLatency: number | undefined;
    try {
      const stream = apiKind === 'openai' ? chatStream(api, req, signal) : converseStream(api, req, signal);
      for await (const ev of stream as AsyncGenerator<StreamEvent>) {
        if (ev.kind === 'text') timer.token();
        if (ev.kind === 'stop') stopReason = ev.stopReason;
        if (ev.kind === 'usage') {
          usage = ev.usage;
          serverLatency = ev.latencyMs;
        }
        setTurns((all) => all.map((t, k) => (k === i ? applyEvent(t, ev) : t)));
      }
    } catch (e) {
      err = readableError(e);
    }
    const metrics = timer.finish(usage, stopReason, serverLatency);
    setTurns((all) => all.map((t, k) => (k === i ? finish(t, metrics, err) : t)));
  };

  const send = (e: FormEvent) => {
    e.preventDefault();
    const text = message.trim();
    if (!text || busy) return;
    setMessage('');
    setBusy(true);
    const reqs = active.map((i) => buildRequest(i, turns[i], text));
    setTurns((all) =>
      all.map((t, k) =>
        active.includes(k) ? [...t, { role: 'user', text }, { role: 'assistant', text: '', streaming: true }] : t,
      ),
    );
    aborts.current = active.map(() => new AbortController());
    Promise.all(active.map((i, n) => runPane(i, reqs[n], aborts.current[n].signal))).finally(() => setBusy(false));
  };

  const stop = () => aborts.current.forEach((a) => a.abort());
  const clear = () => setTurns([[], []]);

  const codeReq = buildRequest(0, turns[0], message.trim() || 'Hello!');
  const codes = snippets(codeReq, location.origin);

  return (
    <section className="playground">
      <div className="screen-head">
        <h1>Playground</h1>
        <label className="inline">
          <input type="checkbox" checked={compare} onChange={(e) => setCompare(e.target.checked)} />
          Compare
        </label>
        <button type="button" onClick={() => setShowCode((s) => !s)} aria-expanded={showCode}>
          Show code
        </button>
        <button type="button" onClick={clear} disabled={busy}>
          Clear
        </button>
      </div>
      <ErrorNote text={models.error && `Cannot list models: ${models.error}`} />
      <div className="pg-grid">
        <form className="pg-settings card" onSubmit={(e) => e.preventDefault()} aria-label="Request settings">
          {active.map((i) => (
            <PanePicker
              key={i}
              idx={i}
              cfg={{ ...panes[i], modelId: paneModel(i) }}
              models={modelList}
              onChange={(c) => setPanes((p) => p.map((x, k) => (k === i ? c : x)))}
            />
          ))}
          <label>
            API
            <select value={apiKind} onChange={(e) => setApiKind(e.target.value === 'openai' ? 'openai' : 'converse')}>
              <option value="converse">Bedrock ConverseStream</option>
              <option value="openai">OpenAI chat completions</option>
            </select>
          </label>
          <label>
            System prompt
            <textarea rows={3} value={system} onChange={(e) => setSystem(e.target.value)} />
          </label>
          <div className="row">
            <label>
              Max tokens
              <input inputMode="numeric" value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
            </label>
            <label>
              Temperature
              <input inputMode="decimal" value={temperature} placeholder="default" onChange={(e) => setTemperature(e.target.value)} />
            </label>
            <label>
              Top P
              <input inputMode="decimal" value={topP} placeholder="default" onChange={(e) => setTopP(e.target.value)} />
            </label>
          </div>
          <label>
            Stop sequences
            <input value={stops} placeholder="comma-separated" onChange={(e) => setStops(e.target.value)} />
          </label>
          <label>
            Guardrail
            <select value={guardrail} onChange={(e) => setGuardrail(e.target.value)} disabled={apiKind === 'openai'}>
              <option value="">None</option>
              {(guardrails.data ?? []).map((g) => (
                <option key={`${g.id}@${g.version}`} value={`${g.id}@${g.version}`}>
                  {g.name} ({g.version})
                </option>
              ))}
            </select>
          </label>
          <fieldset disabled={apiKind === 'openai'}>
            <legend>Prompt-cache points</legend>
            <label className="inline">
              <input type="checkbox" checked={cacheSystem} onChange={(e) => setCacheSystem(e.target.checked)} />
              After the system prompt
            </label>
            <label className="inline">
              <input type="checkbox" checked={cacheHistory} onChange={(e) => setCacheHistory(e.target.checked)} />
              After the conversation so far
            </label>
          </fieldset>
        </form>
        <div className={compare ? 'pg-chats compare' : 'pg-chats'}>
          {active.map((i) => (
            <div key={i} className="pane card">
              {compare && (
                <h2 className="pane-title">
                  {paneModel(i) || 'no model'} · {panes[i].latency}
                </h2>
              )}
              <Transcript turns={turns[i]} label={compare ? `Conversation ${i + 1}` : 'Conversation'} />
            </div>
          ))}
          <form className="composer" onSubmit={send}>
            <label className="grow">
              Message
              <textarea
                rows={3}
                value={message}
                onChange={(e) => setMessage(e.target.value)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' && !e.shiftKey) {
                    e.preventDefault();
                    e.currentTarget.form?.requestSubmit();
                  }
                }}
              />
            </label>
            <div className="composer-buttons">
              <button type="submit" className="primary" disabled={busy || !message.trim()}>
                Send
              </button>
              <button type="button" onClick={stop} disabled={!busy}>
                Stop
              </button>
            </div>
          </form>
        </div>
      </div>
      {showCode && (
        <div className="card">
          <h2>Code for this request</h2>
          <Tabs tabs={codes.map((c) => ({ id: c.id, label: c.label }))} label="Language" value={codeTab} onChange={setCodeTab} />
          {codes
            .filter((c) => c.id === codeTab)
            .map((c) => (
              <CodeBlock key={c.id} code={c.code} label={c.label} />
            ))}
        </div>
      )}
    </section>
  );
}
