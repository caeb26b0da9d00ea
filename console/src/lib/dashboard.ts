// Turns the metrics buckets of GET /admin/v1/metrics into chart series.
import type { Bucket } from '../api/admin';
import type { Series } from '../components/charts';

/** Metric names a bucket field to chart. */
export type Metric = keyof Omit<Bucket, 'start' | 'key'>;

/** RANGES are the dashboard's time windows with a step giving ~60 buckets. */
export const RANGES: { id: string; label: string; ms: number; step: string }[] = [
  { id: '15m', label: 'Last 15 minutes', ms: 15 * 60_000, step: '15s' },
  { id: '1h', label: 'Last hour', ms: 3600_000, step: '1m' },
  { id: '6h', label: 'Last 6 hours', ms: 6 * 3600_000, step: '5m' },
  { id: '24h', label: 'Last 24 hours', ms: 86400_000, step: '30m' },
  { id: '7d', label: 'Last 7 days', ms: 7 * 86400_000, step: '3h' },
];

/** rangeQuery builds the query for a range ending at now. */
export function rangeQuery(rangeId: string, groupBy: string, now: number): Record<string, string | undefined> {
  const r = RANGES.find((x) => x.id === rangeId) ?? RANGES[1];
  const to = new Date(Math.floor(now / 1000) * 1000);
  const from = new Date(to.getTime() - r.ms);
  const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');
  return { from: iso(from), to: iso(to), step: r.step, groupBy: groupBy || undefined };
}

/** groupKeys lists the groups present, busiest first. */
export function groupKeys(buckets: Bucket[]): string[] {
  const n = new Map<string, number>();
  for (const b of buckets) n.set(b.key, (n.get(b.key) ?? 0) + b.requests);
  return [...n.entries()].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).map(([k]) => k);
}

/**
 * seriesOf returns one series per group for metric (with its label suffix),
 * or for ungrouped data one series per metric. A bucket without requests is
 * a gap for latency metrics (no samples) and zero for counts.
 */
export function seriesOf(buckets: Bucket[], metrics: { metric: Metric; label: string }[], maxGroups = 6): Series[] {
  const keys = groupKeys(buckets).slice(0, maxGroups);
  const counts = new Set<Metric>(['requests', 'errors', 'inputTokens', 'outputTokens']);
  const out: Series[] = [];
  for (const key of keys) {
    const rows = buckets.filter((b) => b.key === key).sort((a, b) => a.start.localeCompare(b.start));
    for (const { metric, label } of metrics) {
      const name = key ? (metrics.length > 1 ? `${key} ${label}` : key) : label;
      out.push({
        name: name || '(none)',
        points: rows.map((b) => ({
          x: Date.parse(b.start),
          y: counts.has(metric) ? b[metric] : b.requests > 0 && b[metric] > 0 ? b[metric] : b.requests > 0 && metric === 'errorRate' ? 0 : null,
        })),
      });
    }
  }
  return out;
}

/** totals sums requests, errors and tokens over all buckets. */
export function totals(buckets: Bucket[]) {
  let requests = 0;
  let errors = 0;
  let inputTokens = 0;
  let outputTokens = 0;
  for (const b of buckets) {
    requests += b.requests;
    errors += b.errors;
    inputTokens += b.inputTokens;
    outputTokens += b.outputTokens;
  }
  return { requests, errors, inputTokens, outputTokens, errorRate: requests ? errors / requests : 0 };
}
