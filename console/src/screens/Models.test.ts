import { describe, expect, it } from 'vitest';
import { breakerClass, pullProgress, requestSummary } from './Models';

describe('Models helpers', () => {
  it('summarises requests by profile', () => {
    expect(requestSummary({ standard: 10, optimized: 2 })).toBe('12 requests (standard 10, optimized 2)');
    expect(requestSummary({})).toBe('0 requests');
    expect(requestSummary(5)).toBe('5 requests');
  });
  it('classes breaker states', () => {
    expect(breakerClass('closed')).toBe('ok');
    expect(breakerClass('half-open')).toBe('warn');
    expect(breakerClass('open')).toBe('error');
  });
  it('computes pull progress', () => {
    const p = { pullId: 'p', ref: 'r', startedAt: '', bytes: 50, total: 200, state: 'running' as const };
    expect(pullProgress(p)).toBe(0.25);
    expect(pullProgress({ ...p, total: -1 })).toBeNull();
    expect(pullProgress({ ...p, state: 'done' })).toBe(1);
  });
});
