// Dashboards: P50/P90 TTFT, OTPS and E2E, error rate, requests and tokens
// over time, by model, principal or latency profile (optimized vs standard).
import { useState } from 'react';
import { admin } from '../api/admin';
import { api } from '../api/client';
import { LineChart } from '../components/charts';
import { ErrorNote } from '../components/ui';
import { RANGES, rangeQuery, seriesOf, totals } from '../lib/dashboard';
import * as fmt from '../lib/format';
import { useAsync } from '../lib/useAsync';

const a = admin(api);

/** Dashboards is the dashboards screen. */
export default function Dashboards() {
  const [range, setRange] = useState('1h');
  const [groupBy, setGroupBy] = useState('');
  const [tick, setTick] = useState(0);
  const m = useAsync((signal) => a.metrics(rangeQuery(range, groupBy, Date.now()), signal), `${range}|${groupBy}|${tick}`);
  const b = m.data?.buckets ?? [];
  const t = totals(b);
  const dom: [number, number] | undefined = m.data ? [Date.parse(m.data.from), Date.parse(m.data.to)] : undefined;
  const pair = groupBy
    ? (p50: 'p50TtftMs' | 'p50Otps' | 'p50E2eMs') => [{ metric: p50, label: 'P50' }]
    : (p50: 'p50TtftMs' | 'p50Otps' | 'p50E2eMs') => [
        { metric: p50, label: 'P50' },
        { metric: p50.replace('p50', 'p90') as 'p90TtftMs', label: 'P90' },
      ];
  return (
    <section className="stack">
      <div className="screen-head">
        <h1>Dashboards</h1>
        <label>
          Range
          <select value={range} onChange={(e) => setRange(e.target.value)}>
            {RANGES.map((r) => (
              <option key={r.id} value={r.id}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Group by
          <select value={groupBy} onChange={(e) => setGroupBy(e.target.value)}>
            <option value="">Nothing</option>
            <option value="model">Model</option>
            <option value="principal">Principal</option>
            <option value="profile">Latency profile</option>
          </select>
        </label>
        <button type="button" onClick={() => setTick((x) => x + 1)}>
          Refresh
        </button>
      </div>
      <ErrorNote text={m.error} />
      <p className="muted" aria-live="polite">
        {fmt.count(t.requests)} requests · {fmt.percent(t.errorRate)} errors · {fmt.compact(t.inputTokens)} input / {fmt.compact(t.outputTokens)} output tokens
        {groupBy && ' · grouped charts show P50'}
      </p>
      <div className="grid-2">
        <div className="card">
          <LineChart xDomain={dom} title="Time to first token" series={seriesOf(b, pair('p50TtftMs'))} format={fmt.ms} />
        </div>
        <div className="card">
          <LineChart xDomain={dom} title="Output tokens per second" series={seriesOf(b, pair('p50Otps'))} format={(v) => fmt.compact(v)} />
        </div>
        <div className="card">
          <LineChart xDomain={dom} title="End-to-end latency" series={seriesOf(b, pair('p50E2eMs'))} format={fmt.ms} />
        </div>
        <div className="card">
          <LineChart xDomain={dom} title="Error rate" series={seriesOf(b, [{ metric: 'errorRate', label: 'errors' }])} format={(v) => fmt.percent(v, 0)} />
        </div>
        <div className="card">
          <LineChart xDomain={dom} title="Requests" series={seriesOf(b, [{ metric: 'requests', label: 'requests' }])} format={(v) => fmt.compact(v)} />
        </div>
        <div className="card">
          <LineChart
            xDomain={dom}
            title="Tokens"
            series={seriesOf(b, groupBy ? [{ metric: 'outputTokens', label: 'output' }] : [{ metric: 'inputTokens', label: 'input' }, { metric: 'outputTokens', label: 'output' }])}
            format={(v) => fmt.compact(v)}
          />
        </div>
      </div>
    </section>
  );
}
