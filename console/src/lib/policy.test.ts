import { describe, expect, it } from 'vitest';
import { jsonError, lineCol, POLICY_TEMPLATE, prettyDocument, validName } from './policy';

describe('policy editor helpers', () => {
  it('accepts the template', () => {
    expect(jsonError(POLICY_TEMPLATE)).toBe('');
  });

  it('locates syntax errors', () => {
    const e = jsonError('{\n  "Version": "2012-10-17",\n  "Statement": [,]\n}');
    expect(e).toMatch(/^JSON syntax error/);
    expect(e).toMatch(/line 3/);
    expect(jsonError('')).toMatch(/empty/);
    expect(jsonError('[1]')).toMatch(/object/);
    expect(jsonError('null')).toMatch(/object/);
  });

  it('converts offsets', () => {
    expect(lineCol('ab\ncd', 4)).toEqual({ line: 2, col: 2 });
    expect(lineCol('ab', 99)).toEqual({ line: 1, col: 3 });
  });

  it('pretty-prints stored documents', () => {
    expect(prettyDocument({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(prettyDocument('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyDocument('not json')).toBe('not json');
  });

  it('checks names as the server does', () => {
    expect(validName('alice')).toBe(true);
    expect(validName('ci+bot=1,a.b@c_d-e')).toBe(true);
    expect(validName('')).toBe(false);
    expect(validName('a b')).toBe(false);
    expect(validName('x'.repeat(65))).toBe(false);
    expect(validName('ünï')).toBe(false);
  });
});

describe('jsonErrorOffset', () => {
  it('agrees with JSON.parse on valid and invalid inputs (fuzz, 3000 inputs)', async () => {
    const { rng } = await import('../test/rand');
    const { jsonErrorOffset } = await import('./policy');
    const pieces = ['{', '}', '[', ']', ',', ':', '"a"', '"\\u00e9"', '"\\x"', '1', '-0.5e3', '01', 'true', 'nul', 'null', ' ', '\n', '"'];
    for (let seed = 1; seed <= 3000; seed++) {
      const r = rng(seed);
      let s = seed % 3 === 0 ? '{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}' : '';
      const n = Math.floor(r() * 10);
      for (let k = 0; k < n; k++) {
        const at = Math.floor(r() * (s.length + 1));
        s = s.slice(0, at) + pieces[Math.floor(r() * pieces.length)] + s.slice(at);
      }
      let valid = true;
      try {
        JSON.parse(s);
      } catch {
        valid = false;
      }
      const off = jsonErrorOffset(s);
      expect(off === -1, `seed ${seed}: ${JSON.stringify(s)}`).toBe(valid);
      if (!valid) expect(off).toBeLessThanOrEqual(s.length);
    }
  });

  it('points at the offending character', async () => {
    const { jsonErrorOffset } = await import('./policy');
    expect(jsonErrorOffset('{"a":1,}')).toBe(7);
    expect(jsonErrorOffset('{"a" 1}')).toBe(5);
    expect(jsonErrorOffset('[1 2]')).toBe(3);
    expect(jsonErrorOffset('{"a":1} x')).toBe(8);
    expect(jsonErrorOffset('{"a":')).toBe(5);
  });
});
