import { describe, expect, it } from 'vitest';
import { linear, niceStep, niceTicks, pathOf, radarPoints, timeLabel } from './chart';

describe('chart math', () => {
  it('picks 1/2/5 steps', () => {
    expect(niceStep(100, 5)).toBe(20);
    expect(niceStep(7, 5)).toBe(2);
    expect(niceStep(0.3, 3)).toBeCloseTo(0.1);
    expect(niceStep(0, 5)).toBe(1);
  });

  it('covers the range with round ticks', () => {
    expect(niceTicks(0, 95, 5)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(3, 3)).toEqual([2.6, 2.8, 3, 3.2, 3.4]);
    expect(niceTicks(0, 0)).toEqual([0, 1]);
    expect(niceTicks(Number.NaN, 1)).toEqual([0, 1]);
    const t = niceTicks(0.12, 0.97, 4);
    expect(t[0]).toBeLessThanOrEqual(0.12);
    expect(t[t.length - 1]).toBeGreaterThanOrEqual(0.97);
  });

  it('scales and breaks paths at gaps', () => {
    const s = linear(0, 10, 0, 100);
    expect(s(5)).toBe(50);
    expect(linear(1, 1, 0, 100)(7)).toBe(50);
    const d = pathOf(
      [
        { x: 0, y: 0 },
        { x: 1, y: 1 },
        { x: 2, y: null },
        { x: 3, y: 3 },
      ],
      (v) => v * 10,
      (v) => 100 - v * 10,
    );
    expect(d).toBe('M0.0,100.0L10.0,90.0M30.0,70.0');
  });

  it('places radar points clockwise from the top, clamped to max', () => {
    const p = radarPoints([1, 1, 1, 1], 1, 50, 50, 10);
    expect(p[0][0]).toBeCloseTo(50);
    expect(p[0][1]).toBeCloseTo(40);
    expect(p[1][0]).toBeCloseTo(60);
    expect(p[1][1]).toBeCloseTo(50);
    expect(radarPoints([2], 1, 0, 0, 10)[0][1]).toBeCloseTo(-10);
    expect(radarPoints([-1], 1, 0, 0, 10)[0][1]).toBeCloseTo(0);
  });

  it('labels time ticks', () => {
    expect(timeLabel(Date.parse('2026-12-06T23:05:00Z'), 3600_000)).toBe('23:05');
    expect(timeLabel(Date.parse('2026-12-06T23:05:00Z'), 7 * 86400_000)).toBe('12-06');
  });
});
