// Benchmarks: start an `outcrop bench` run against any endpoint with
// progress, open saved runs (the seed's table, per-request charts), and
// compare two runs.
import { useEffect, useState, type FormEvent } from 'react';
import { api, readableError } from '../api/client';
import { LineChart } from '../components/charts';
import { Link } from '../components/Layout';
import { ErrorNote } from '../components/ui';
import { pct, pointSeries, progress, splitList, startErrors, type Comparison, type Point, type Run, type StartRequest, type Summary } from '../lib/bench';
import * as fmt from '../lib/format';
import { navigate } from '../lib/router';
import { useAsync } from '../lib/useAsync';

const enc = encodeURIComponent;
const s2ms = (v?: number) => (v === undefined ? null : v * 1000);

function GroupsTable({ summary }: { summary: Summary }) {
  return (
    <div className="table-wrap">
      <table>
        <caption className="sr-only">Results by target</caption>
        <thead>
          <tr>
            <th>Target</th>
            <th className="num">Requests</th>
            <th className="num">Errors</th>
            <th className="num">TTFT P50</th>
            <th className="num">TTFT P90</th>
            <th className="num">TTFT P99</th>
            <th className="num">OTPS P50</th>
            <th className="num">OTPS P90</th>
            <th className="num">E2E P50</th>
            <th className="num">E2E P90</th>
          </tr>
        </thead>
        <tbody>
          {summary.groups.map((g) => (
            <tr key={g.target}>
              <th scope="row">{g.target}</th>
              <td className="num">{fmt.count(g.requests)}</td>
              <td className="num">{fmt.percent(g.error_rate)}</td>
              <td className="num">{fmt.ms(s2ms(g.metrics.ttft_s?.p50))}</td>
              <td className="num">{fmt.ms(s2ms(g.metrics.ttft_s?.p90))}</td>
              <td className="num">{fmt.ms(s2ms(g.metrics.ttft_s?.p99))}</td>
              <td className="num">{fmt.rate(g.metrics.otps?.p50)}</td>
              <td className="num">{fmt.rate(g.metrics.otps?.p90)}</td>
              <td className="num">{fmt.ms(s2ms(g.metrics.e2e_s?.p50))}</td>
              <td className="num">{fmt.ms(s2ms(g.metrics.e2e_s?.p90))}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** SeedTable is the seed articles' table: candidate vs baseline with the improvement. */
function SeedTable({ comparisons }: { comparisons: Comparison[] }) {
  if (comparisons.length === 0) return <p className="muted">No comparison: run two profiles (or compare two runs) to get the table.</p>;
  return (
    <div className="table-wrap">
      <table data-testid="seed-table">
        <caption className="sr-only">Latency comparison</caption>
        <thead>
          <tr>
            <th>Model</th>
            <th>Profile</th>
            <th className="num">TTFT P50 (s)</th>
            <th className="num">TTFT P90 (s)</th>
            <th className="num">OTPS P50</th>
            <th className="num">OTPS P90</th>
          </tr>
        </thead>
        <tbody>
          {comparisons.flatMap((c) => [
            <tr key={`${c.candidate}|${c.baseline}|c`}>
              <td>{c.candidate_row.model}</td>
              <td>{c.candidate_row.profile}</td>
              <td className="num">{c.candidate_row.ttft_p50_s?.toFixed(3) ?? '–'}</td>
              <td className="num">{c.candidate_row.ttft_p90_s?.toFixed(3) ?? '–'}</td>
              <td className="num">{c.candidate_row.otps_p50?.toFixed(1) ?? '–'}</td>
              <td className="num">{c.candidate_row.otps_p90?.toFixed(1) ?? '–'}</td>
            </tr>,
            <tr key={`${c.candidate}|${c.baseline}|b`}>
              <td>{c.baseline_row.model}</td>
              <td>{c.baseline_row.profile}</td>
              <td className="num">{c.baseline_row.ttft_p50_s?.toFixed(3) ?? '–'}</td>
              <td className="num">{c.baseline_row.ttft_p90_s?.toFixed(3) ?? '–'}</td>
              <td className="num">{c.baseline_row.otps_p50?.toFixed(1) ?? '–'}</td>
              <td className="num">{c.baseline_row.otps_p90?.toFixed(1) ?? '–'}</td>
            </tr>,
            <tr key={`${c.candidate}|${c.baseline}|i`} className="improvement">
              <td colSpan={2}>
                Improvement ({c.candidate} over {c.baseline})
              </td>
              <td className="num">{pct(c.improvement_pct.ttft_p50_s)}</td>
              <td className="num">{pct(c.improvement_pct.ttft_p90_s)}</td>
              <td className="num">{pct(c.improvement_pct.otps_p50)}</td>
              <td className="num">{pct(c.improvement_pct.otps_p90)}</td>
            </tr>,
          ])}
        </tbody>
      </table>
    </div>
  );
}

function RunView({ id }: { id: string }) {
  const [tick, setTick] = useState(0);
  const r = useAsync(
    (s) => api.json<{ run: Run; summary?: Summary; series?: Record<string, Point[]> }>(`/admin/v1/bench/runs/${enc(id)}`, { signal: s }),
    `${id}|${tick}`,
  );
  const running = r.data?.run.state === 'running';
  useEffect(() => {
    if (!running) return;
    const t = setTimeout(() => setTick((x) => x + 1), 1500);
    return () => clearTimeout(t);
  }, [running, tick]);
  const [error, setError] = useState('');
  const run = r.data?.run;
  return (
    <section className="stack">
      <div className="screen-head">
        <h2>Run {id}</h2>
        {run && <span className="badge">{run.state}</span>}
        {running && (
          <button
            type="button"
            className="danger"
            onClick={() =>
              api
                .json(`/admin/v1/bench/runs/${enc(id)}`, { method: 'DELETE' })
                .then(() => setTick((x) => x + 1))
                .catch((e: unknown) => setError(readableError(e)))
            }
          >
            Stop run
          </button>
        )}
      </div>
      <ErrorNote text={r.error || error || run?.error || ''} />
      {run && (
        <div className="stack">
          <progress className="progress" max={1} value={progress(run)} aria-label="Run progress" />
          <p className="muted" aria-live="polite">
            {run.done} done, {run.failed} failed of {run.planned} planned · targets {(run.targets ?? []).join(', ') || '–'} · started {fmt.dateTime(run.startedAt)}
            {run.endedAt && ` · ended ${fmt.dateTime(run.endedAt)}`}
            {run.stopReason && ` · ${run.stopReason}`}
          </p>
        </div>
      )}
      {r.data?.summary?.groups && (
        <>
          <div className="card">
            <h3>Latency table</h3>
            <SeedTable comparisons={r.data.summary.comparisons ?? []} />
          </div>
          <div className="card">
            <h3>By target</h3>
            <GroupsTable summary={r.data.summary} />
          </div>
        </>
      )}
      {r.data?.series && Object.keys(r.data.series).length > 0 && (
        <div className="grid-2">
          <div className="card">
            <LineChart title="TTFT per request" time={false} series={pointSeries(r.data.series, 'ttftMs')} format={fmt.ms} xLabel={(v) => `#${Math.round(v)}`} />
          </div>
          <div className="card">
            <LineChart title="Output tokens/s per request" time={false} series={pointSeries(r.data.series, 'otps')} format={(v) => fmt.compact(v)} xLabel={(v) => `#${Math.round(v)}`} />
          </div>
          <div className="card">
            <LineChart title="E2E per request" time={false} series={pointSeries(r.data.series, 'e2eMs')} format={fmt.ms} xLabel={(v) => `#${Math.round(v)}`} />
          </div>
        </div>
      )}
    </section>
  );
}

function CompareView({ a, b }: { a: string; b: string }) {
  const c = useAsync((s) => api.json<{ summary: Summary }>('/admin/v1/bench/compare', { signal: s, query: { a, b } }), `${a}|${b}`);
  return (
    <section className="stack">
      <h2>
        Run {b} against run {a}
      </h2>
      <ErrorNote text={c.error} />
      {c.data && (
        <>
          <div className="card">
            <h3>Latency table</h3>
            <SeedTable comparisons={c.data.summary.comparisons ?? []} />
          </div>
          <div className="card">
            <h3>By target</h3>
            <GroupsTable summary={c.data.summary} />
          </div>
        </>
      )}
    </section>
  );
}

function StartForm() {
  const [form, setForm] = useState({
    api: 'bedrock' as 'bedrock' | 'openai',
    endpoint: location.origin,
    apiKey: '',
    models: '',
    standard: true,
    optimized: true,
    requests: '10',
    concurrency: '1',
    inputTokens: '256',
    outputTokens: '64',
    maxTime: '10m',
  });
  const [error, setError] = useState('');
  const models = useAsync((s) => api.json<{ modelSummaries?: { modelId: string }[] }>('/foundation-models', { signal: s }).then((r) => (r.modelSummaries ?? []).map((m) => m.modelId)));
  const set = (p: Partial<typeof form>) => setForm({ ...form, ...p });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const req: StartRequest = {
      api: form.api,
      endpoint: form.endpoint.trim(),
      apiKey: form.apiKey.trim() || undefined,
      models: splitList(form.models || models.data?.[0] || ''),
      profiles: [form.standard && 'standard', form.optimized && 'optimized'].filter(Boolean) as string[],
      requests: Number(form.requests),
      concurrency: Number(form.concurrency),
      inputTokens: form.inputTokens,
      outputTokens: form.outputTokens,
      stream: true,
      maxTime: form.maxTime,
    };
    const errs = startErrors(req);
    if (errs.length) {
      setError(errs.join(' '));
      return;
    }
    setError('');
    api
      .json<Run>('/admin/v1/bench/runs', { method: 'POST', body: req })
      .then((r) => navigate(`benchmarks/${enc(r.runId)}`))
      .catch((err: unknown) => setError(readableError(err)));
  };
  return (
    <form className="card stack" onSubmit={submit} aria-labelledby="bench-start">
      <h2 id="bench-start">Start a run</h2>
      <div className="row">
        <label>
          API
          <select value={form.api} onChange={(e) => set({ api: e.target.value === 'openai' ? 'openai' : 'bedrock' })}>
            <option value="bedrock">Bedrock ConverseStream</option>
            <option value="openai">OpenAI chat completions</option>
          </select>
        </label>
        <label className="grow">
          Endpoint
          <input value={form.endpoint} onChange={(e) => set({ endpoint: e.target.value })} />
        </label>
        <label>
          Endpoint API key (not stored)
          <input type="password" autoComplete="off" value={form.apiKey} onChange={(e) => set({ apiKey: e.target.value })} />
        </label>
      </div>
      <div className="row">
        <label className="grow">
          Models (comma-separated)
          <input value={form.models} placeholder={models.data?.[0] ?? ''} onChange={(e) => set({ models: e.target.value })} />
        </label>
        <fieldset className="inline-fieldset">
          <legend>Profiles</legend>
          <label className="inline">
            <input type="checkbox" checked={form.standard} onChange={(e) => set({ standard: e.target.checked })} /> standard
          </label>
          <label className="inline">
            <input type="checkbox" checked={form.optimized} onChange={(e) => set({ optimized: e.target.checked })} /> optimized
          </label>
        </fieldset>
      </div>
      <div className="row">
        <label>
          Requests per target
          <input inputMode="numeric" value={form.requests} onChange={(e) => set({ requests: e.target.value })} />
        </label>
        <label>
          Concurrency
          <input inputMode="numeric" value={form.concurrency} onChange={(e) => set({ concurrency: e.target.value })} />
        </label>
        <label>
          Input tokens
          <input value={form.inputTokens} onChange={(e) => set({ inputTokens: e.target.value })} />
        </label>
        <label>
          Output tokens
          <input value={form.outputTokens} onChange={(e) => set({ outputTokens: e.target.value })} />
        </label>
        <label>
          Time limit
          <input value={form.maxTime} onChange={(e) => set({ maxTime: e.target.value })} />
        </label>
      </div>
      <ErrorNote text={error} />
      <div>
        <button type="submit" className="primary">
          Start run
        </button>
      </div>
    </form>
  );
}

function RunList() {
  const runs = useAsync((s) => api.json<{ runs: Run[] }>('/admin/v1/bench/runs', { signal: s }));
  const [pick, setPick] = useState<string[]>([]);
  const toggle = (id: string) => setPick((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p.slice(-1), id]));
  return (
    <section className="card stack" aria-labelledby="bench-runs">
      <div className="screen-head">
        <h2 id="bench-runs">Runs</h2>
        <button type="button" disabled={pick.length !== 2} onClick={() => navigate(`benchmarks/compare/${enc(pick[0])}/${enc(pick[1])}`)}>
          Compare selected
        </button>
        <button type="button" onClick={runs.reload}>
          Refresh
        </button>
      </div>
      <ErrorNote text={runs.error} />
      <table>
        <thead>
          <tr>
            <th>
              <span className="sr-only">Select</span>
            </th>
            <th>Run</th>
            <th>State</th>
            <th>Started</th>
            <th className="num">Done / planned</th>
            <th>Targets</th>
          </tr>
        </thead>
        <tbody>
          {(runs.data?.runs ?? []).length === 0 && !runs.loading && (
            <tr>
              <td colSpan={6} className="muted">
                No runs yet.
              </td>
            </tr>
          )}
          {(runs.data?.runs ?? []).map((r) => (
            <tr key={r.runId}>
              <td>
                <input type="checkbox" aria-label={`Select run ${r.runId} to compare`} checked={pick.includes(r.runId)} onChange={() => toggle(r.runId)} />
              </td>
              <td>
                <Link route={`benchmarks/${enc(r.runId)}`}>{r.runId}</Link>
              </td>
              <td>{r.state}</td>
              <td>{fmt.dateTime(r.startedAt)}</td>
              <td className="num">
                {r.done} / {r.planned}
              </td>
              <td>{(r.targets ?? []).join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** Benchmarks is the benchmarks screen: benchmarks, benchmarks/<run>, benchmarks/compare/<a>/<b>. */
export default function Benchmarks({ route }: { route: string }) {
  const parts = route.split('/').slice(1).map(decodeURIComponent);
  return (
    <section className="stack">
      <h1>Benchmarks</h1>
      {parts.length > 0 && <Link route="benchmarks">← All runs</Link>}
      {parts.length === 0 && (
        <>
          <StartForm />
          <RunList />
        </>
      )}
      {parts.length === 1 && <RunView key={parts[0]} id={parts[0]} />}
      {parts[0] === 'compare' && parts.length === 3 && <CompareView a={parts[1]} b={parts[2]} />}
    </section>
  );
}
