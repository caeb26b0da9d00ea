// Models: each routed model's deployments with live health (breaker, EWMA
// TTFT/OTPS, in-flight and queued), and the local model files with pull and
// remove, as `outcrop models` does.
import { useEffect, useState, type FormEvent } from 'react';
import { admin, type DeploymentStats, type Pull } from '../api/admin';
import { api, readableError } from '../api/client';
import { ErrorNote } from '../components/ui';
import * as fmt from '../lib/format';
import { useAsync } from '../lib/useAsync';

const a = admin(api);

/** breakerClass maps a breaker state to a badge class. */
export function breakerClass(state: string): string {
  const s = state.toLowerCase();
  if (s === 'closed') return 'ok';
  if (s.includes('half')) return 'warn';
  return 'error';
}

/** requestSummary totals routed requests with the split by profile: "12 requests (standard 10, optimized 2)". */
export function requestSummary(r: Record<string, number> | number | undefined): string {
  if (typeof r === 'number') return `${fmt.count(r)} requests`;
  const entries = Object.entries(r ?? {});
  const total = entries.reduce((n, [, v]) => n + (Number(v) || 0), 0);
  return entries.length ? `${fmt.count(total)} requests (${entries.map(([k, v]) => `${k} ${fmt.count(v)}`).join(', ')})` : '0 requests';
}

/** pullProgress is the completed fraction of a pull, or null when the size is unknown. */
export function pullProgress(p: Pull): number | null {
  if (p.state === 'done') return 1;
  if (p.total <= 0) return null;
  return Math.min(1, p.bytes / p.total);
}

function DeploymentRow({ d }: { d: DeploymentStats }) {
  return (
    <tr>
      <td>{d.deployment}</td>
      <td>
        <span className={`badge ${breakerClass(d.breaker)}`}>{d.breaker}</span>
        {d.open_for && <span className="muted"> for {d.open_for}</span>}
      </td>
      <td className="num">{fmt.ms(d.ttft_ms || null)}</td>
      <td className="num">{fmt.ms(d.p90_ttft_ms || null)}</td>
      <td className="num">{fmt.rate(d.otps || null)}</td>
      <td className="num">{d.in_flight}</td>
      <td className="num">
        {d.queued_standard} / {d.queued_optimized}
      </td>
      <td className="num">
        {fmt.count(d.attempts)} / {fmt.count(d.failures)}
      </td>
    </tr>
  );
}

function Status() {
  const [tick, setTick] = useState(0);
  const st = useAsync((signal) => a.models(signal), String(tick));
  useEffect(() => {
    const t = setInterval(() => setTick((x) => x + 1), 5000);
    return () => clearInterval(t);
  }, []);
  return (
    <section className="card" aria-labelledby="routing-h">
      <div className="screen-head">
        <h2 id="routing-h">Routing</h2>
        {st.data && (
          <span className="muted">
            {requestSummary(st.data.requests)} · {fmt.count(st.data.retries)} retries · hedge rate {fmt.percent(st.data.hedgeRate)} · refreshes every 5 s
          </span>
        )}
      </div>
      <ErrorNote text={st.error} />
      {(st.data?.models ?? []).map((m) => (
        <div key={m.id} className="model-block">
          <h3>
            {m.id} {m.aliases.length > 0 && <span className="muted">({m.aliases.join(', ')})</span>}
          </h3>
          {m.description && <p className="muted">{m.description}</p>}
          <p className="muted">
            Profiles: {m.profiles.join(', ') || 'standard'}
            {m.fallbacks.length > 0 && <> · Fallbacks: {m.fallbacks.join(' → ')}</>}
          </p>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Deployment</th>
                  <th>Breaker</th>
                  <th className="num">EWMA TTFT</th>
                  <th className="num">P90 TTFT</th>
                  <th className="num">EWMA OTPS</th>
                  <th className="num">In flight</th>
                  <th className="num">Queued std / opt</th>
                  <th className="num">Attempts / failures</th>
                </tr>
              </thead>
              <tbody>
                {m.deployments.length === 0 && (
                  <tr>
                    <td colSpan={8} className="muted">
                      No deployment has served a request yet.
                    </td>
                  </tr>
                )}
                {m.deployments.map((d) => (
                  <DeploymentRow key={d.deployment} d={d} />
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ))}
    </section>
  );
}

function Files() {
  const files = useAsync((signal) => a.localModels(signal));
  const [ref, setRef] = useState('');
  const [error, setError] = useState('');
  const [pulls, setPulls] = useState<Pull[]>([]);
  const runningIds = pulls
    .filter((p) => p.state === 'running')
    .map((p) => p.pullId)
    .join(' ');
  const reloadFiles = files.reload;

  useEffect(() => {
    if (!runningIds) return;
    const t = setInterval(() => {
      Promise.all(runningIds.split(' ').map((id) => a.pullStatus(id)))
        .then((upd) => {
          setPulls((all) => all.map((p) => upd.find((u) => u.pullId === p.pullId) ?? p));
          if (upd.some((u) => u.state !== 'running')) reloadFiles();
        })
        .catch((e: unknown) => setError(readableError(e)));
    }, 1000);
    return () => clearInterval(t);
  }, [runningIds, reloadFiles]);

  const pull = (e: FormEvent) => {
    e.preventDefault();
    setError('');
    a.pullModel(ref.trim())
      .then((p) => {
        setPulls((all) => [p, ...all]);
        setRef('');
      })
      .catch((err: unknown) => setError(readableError(err)));
  };

  const remove = (id: string) => {
    if (!confirm(`Remove the local model file ${id}?`)) return;
    a.removeModel(id)
      .then(files.reload)
      .catch((err: unknown) => setError(readableError(err)));
  };

  const shownPulls = [...pulls, ...(files.data?.pulls ?? []).filter((p) => !pulls.some((q) => q.pullId === p.pullId))];
  return (
    <section className="card" aria-labelledby="files-h">
      <h2 id="files-h">Local model files</h2>
      <ErrorNote text={files.error || error} />
      <form className="row" onSubmit={pull}>
        <label className="grow">
          Model to pull (URL, hf:owner/repo/file.gguf or path)
          <input value={ref} onChange={(e) => setRef(e.target.value)} />
        </label>
        <button type="submit" className="primary" disabled={!ref.trim()}>
          Pull
        </button>
      </form>
      {shownPulls.length > 0 && (
        <ul className="stack" aria-label="Pulls">
          {shownPulls.map((p) => {
            const k = pullProgress(p);
            return (
              <li key={p.pullId}>
                {p.ref}: {p.state}
                {p.error && <span className="error"> — {p.error}</span>}{' '}
                {p.state === 'running' && (
                  <progress className="progress" max={1} value={k ?? undefined} aria-label={`Pull of ${p.ref}`}>
                    {fmt.bytes(p.bytes)}
                  </progress>
                )}
                <span className="muted">
                  {' '}
                  {fmt.bytes(p.bytes)}
                  {p.total > 0 && ` of ${fmt.bytes(p.total)}`}
                </span>
              </li>
            );
          })}
        </ul>
      )}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>ID</th>
              <th>Name</th>
              <th>Architecture</th>
              <th className="num">Size</th>
              <th>Added</th>
              <th>Source</th>
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(files.data?.models ?? []).length === 0 && !files.loading && (
              <tr>
                <td colSpan={7} className="muted">
                  No local model files.
                </td>
              </tr>
            )}
            {(files.data?.models ?? []).map((m) => (
              <tr key={m.id}>
                <td>
                  <code>{m.id}</code>
                </td>
                <td>{m.name ?? ''}</td>
                <td>{m.architecture ?? ''}</td>
                <td className="num">{fmt.bytes(m.size)}</td>
                <td>{fmt.dateTime(m.added)}</td>
                <td className="muted" title={m.sha256}>
                  {m.source}
                </td>
                <td>
                  <button type="button" className="danger" onClick={() => remove(m.id)} aria-label={`Remove ${m.id}`}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** Models is the models screen. */
export default function Models() {
  return (
    <section className="stack">
      <h1>Models</h1>
      <Status />
      <Files />
    </section>
  );
}
