// Bench runs as the admin API returns them (summary.json of `outcrop bench`)
// turned into the tables and chart series of the Benchmarks screen.
import type { Series } from '../components/charts';

/** Stats are one metric's statistics (seconds for ttft_s/e2e_s). */
export interface Stats {
  n: number;
  mean?: number;
  min?: number;
  p50?: number;
  p90?: number;
  p99?: number;
  max?: number;
}

/** BenchMetrics are one group's figures. */
export interface BenchMetrics {
  ttft_s?: Stats;
  e2e_s?: Stats;
  otps?: Stats;
  output_tokens?: Stats;
}

/** Group is one target of a run. */
export interface Group {
  target: string;
  api: string;
  model: string;
  profile_requested?: string;
  requests: number;
  succeeded: number;
  failed: number;
  error_rate: number;
  metrics: BenchMetrics;
}

/** Row is a line of the seed's table. */
export interface Row {
  model: string;
  profile: string;
  ttft_p50_s?: number;
  ttft_p90_s?: number;
  otps_p50?: number;
  otps_p90?: number;
}

/** Comparison is a block of the seed's table. */
export interface Comparison {
  candidate: string;
  baseline: string;
  candidate_row: Row;
  baseline_row: Row;
  improvement_pct: Row;
}

/** Summary is summary.json. */
export interface Summary {
  started: string;
  ended: string;
  interrupted: boolean;
  stop_reason?: string;
  groups: Group[];
  comparisons?: Comparison[];
  notes?: string[];
}

/** Run is a bench run's state. */
export interface Run {
  runId: string;
  state: 'running' | 'done' | 'failed' | 'interrupted';
  startedAt: string;
  endedAt?: string;
  done: number;
  failed: number;
  planned: number;
  error?: string;
  targets: string[] | null;
  stopReason?: string;
}

/** Point is one measured request. */
export interface Point {
  seq: number;
  ttftMs: number | null;
  otps: number | null;
  e2eMs: number | null;
  error?: string;
}

/** StartRequest is POST /admin/v1/bench/runs's body. */
export interface StartRequest {
  api: 'bedrock' | 'openai';
  endpoint: string;
  apiKey?: string;
  models: string[];
  profiles: string[];
  requests: number;
  concurrency: number;
  inputTokens: string;
  outputTokens: string;
  stream: boolean;
  maxTime: string;
}

/** progress is the completed fraction of a run (0..1), 1 when it has ended. */
export function progress(r: Run): number {
  if (r.state !== 'running') return 1;
  if (!(r.planned > 0)) return 0;
  return Math.min(1, (r.done + r.failed) / r.planned);
}

/** startErrors checks a start request as the server does, before sending it. */
export function startErrors(s: StartRequest): string[] {
  const out: string[] = [];
  try {
    const u = new URL(s.endpoint);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') out.push('The endpoint is an http(s) URL.');
  } catch {
    out.push('The endpoint is an http(s) URL.');
  }
  if (s.models.length === 0) out.push('Name at least one model.');
  if (s.models.length > 8) out.push('At most 8 models.');
  if (!(s.requests >= 1 && s.requests <= 1000)) out.push('Requests per target: 1 to 1000.');
  if (!(s.concurrency >= 1 && s.concurrency <= 64)) out.push('Concurrency: 1 to 64.');
  return out;
}

/** splitList parses a comma- or space-separated list. */
export function splitList(s: string): string[] {
  return s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}

/** pct formats an improvement percentage with its sign. */
export function pct(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  return `${v > 0 ? '+' : ''}${v.toFixed(1)}%`;
}

/** pointSeries turns each target's points into chart series of field. */
export function pointSeries(series: Record<string, Point[]>, field: 'ttftMs' | 'otps' | 'e2eMs'): Series[] {
  return Object.entries(series)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, pts]) => ({
      name,
      points: [...pts].sort((a, b) => a.seq - b.seq).map((p) => ({ x: p.seq, y: p.error ? null : p[field] })),
    }));
}
