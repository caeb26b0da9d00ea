import { describe, expect, it } from 'vitest';
import type { Bucket } from '../api/admin';
import { groupKeys, rangeQuery, seriesOf, totals } from './dashboard';

const b = (start: string, key: string, requests: number, extra: Partial<Bucket> = {}): Bucket => ({
  start,
  key,
  requests,
  errors: 0,
  errorRate: 0,
  inputTokens: 10 * requests,
  outputTokens: 20 * requests,
  p50TtftMs: requests ? 100 : 0,
  p90TtftMs: requests ? 200 : 0,
  p50Otps: requests ? 30 : 0,
  p90Otps: requests ? 40 : 0,
  p50E2eMs: requests ? 900 : 0,
  p90E2eMs: requests ? 1500 : 0,
  ...extra,
});

describe('dashboard series', () => {
  const buckets = [
    b('2026-12-06T23:01:00Z', 'optimized', 1),
    b('2026-12-06T23:00:00Z', 'standard', 3, { errors: 1, errorRate: 1 / 3 }),
    b('2026-12-06T23:00:00Z', 'optimized', 2),
    b('2026-12-06T23:01:00Z', 'standard', 0),
  ];

  it('orders groups by traffic', () => {
    expect(groupKeys(buckets)).toEqual(['optimized', 'standard']);
  });

  it('makes one series per group, sorted by time, with gaps for empty latency buckets', () => {
    const s = seriesOf(buckets, [{ metric: 'p50TtftMs', label: 'P50' }]);
    expect(s.map((x) => x.name)).toEqual(['optimized', 'standard']);
    expect(s[1].points).toEqual([
      { x: Date.parse('2026-12-06T23:00:00Z'), y: 100 },
      { x: Date.parse('2026-12-06T23:01:00Z'), y: null },
    ]);
    const r = seriesOf(buckets, [{ metric: 'requests', label: 'requests' }]);
    expect(r[1].points.map((p) => p.y)).toEqual([3, 0]);
    const e = seriesOf(buckets, [{ metric: 'errorRate', label: 'errors' }]);
    expect(e[0].points.map((p) => p.y)).toEqual([0, 0]);
    expect(e[1].points[0].y).toBeCloseTo(1 / 3);
  });

  it('names ungrouped series by metric', () => {
    const s = seriesOf([b('2026-12-06T23:00:00Z', '', 1)], [{ metric: 'p50TtftMs', label: 'P50' }, { metric: 'p90TtftMs', label: 'P90' }]);
    expect(s.map((x) => x.name)).toEqual(['P50', 'P90']);
    expect(s[1].points[0].y).toBe(200);
  });

  it('sums totals', () => {
    expect(totals(buckets)).toEqual({ requests: 6, errors: 1, inputTokens: 60, outputTokens: 120, errorRate: 1 / 6 });
    expect(totals([]).errorRate).toBe(0);
  });

  it('builds the range query', () => {
    expect(rangeQuery('6h', 'profile', Date.parse('2026-12-06T23:30:00.500Z'))).toEqual({
      from: '2026-12-06T17:30:00Z',
      to: '2026-12-06T23:30:00Z',
      step: '5m',
      groupBy: 'profile',
    });
    expect(rangeQuery('bogus', '', 0).step).toBe('1m');
    expect(rangeQuery('1h', '', 0).groupBy).toBeUndefined();
  });
});
