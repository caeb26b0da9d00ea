import { describe, expect, it } from 'vitest';
import { pct, pointSeries, progress, splitList, startErrors, type Run, type StartRequest } from './bench';

const run: Run = { runId: 'r', state: 'running', startedAt: '', done: 3, failed: 1, planned: 8, targets: ['standard'] };
const start: StartRequest = {
  api: 'bedrock',
  endpoint: 'http://127.0.0.1:8080',
  models: ['smollm2'],
  profiles: ['standard', 'optimized'],
  requests: 20,
  concurrency: 1,
  inputTokens: '256',
  outputTokens: '64',
  stream: true,
  maxTime: '10m',
};

describe('bench helpers', () => {
  it('computes progress', () => {
    expect(progress(run)).toBe(0.5);
    expect(progress({ ...run, planned: 0 })).toBe(0);
    expect(progress({ ...run, state: 'done' })).toBe(1);
    expect(progress({ ...run, done: 20 })).toBe(1);
  });

  it('checks a start request', () => {
    expect(startErrors(start)).toEqual([]);
    expect(startErrors({ ...start, endpoint: 'ftp://x', models: [], requests: 0, concurrency: 65 })).toEqual([
      'The endpoint is an http(s) URL.',
      'Name at least one model.',
      'Requests per target: 1 to 1000.',
      'Concurrency: 1 to 64.',
    ]);
    expect(startErrors({ ...start, endpoint: 'not a url' })).toEqual(['The endpoint is an http(s) URL.']);
    expect(startErrors({ ...start, models: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] })).toEqual(['At most 8 models.']);
  });

  it('parses lists and formats improvements', () => {
    expect(splitList(' a, b  c,,')).toEqual(['a', 'b', 'c']);
    expect(pct(12.345)).toBe('+12.3%');
    expect(pct(-4)).toBe('-4.0%');
    expect(pct(undefined)).toBe('–');
  });

  it('makes per-request series with failures as gaps', () => {
    const s = pointSeries(
      {
        standard: [
          { seq: 2, ttftMs: 200, otps: 10, e2eMs: 900 },
          { seq: 1, ttftMs: 100, otps: 12, e2eMs: 800 },
          { seq: 3, ttftMs: null, otps: null, e2eMs: null, error: 'timeout' },
        ],
        optimized: [{ seq: 1, ttftMs: 50, otps: 20, e2eMs: 400 }],
      },
      'ttftMs',
    );
    expect(s.map((x) => x.name)).toEqual(['optimized', 'standard']);
    expect(s[1].points).toEqual([
      { x: 1, y: 100 },
      { x: 2, y: 200 },
      { x: 3, y: null },
    ]);
  });
});
