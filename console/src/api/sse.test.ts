import { describe, expect, it } from 'vitest';
import { randomText, rng, splitRandomly } from '../test/rand';
import { SSEDecoder } from './sse';

const enc = new TextEncoder();

describe('SSEDecoder', () => {
  it('decodes an OpenAI stream', () => {
    const d = new SSEDecoder();
    const ev = d.push('data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n');
    expect(ev.map((e) => e.data)).toEqual(['{"a":1}', '{"a":2}', '[DONE]']);
    expect(ev[0].event).toBe('message');
  });

  it('handles CRLF, CR, comments, event names, ids and multi-line data', () => {
    const d = new SSEDecoder();
    const ev = d.push(': keep-alive\r\nevent: progress\r\nid: 7\r\ndata: one\rdata:two\r\n\r\n');
    expect(ev).toEqual([{ event: 'progress', data: 'one\ntwo', id: '7' }]);
  });

  it('flushes a final event without a blank line at end()', () => {
    const d = new SSEDecoder();
    expect(d.push('data: tail')).toEqual([]);
    expect(d.end().map((e) => e.data)).toEqual(['tail']);
  });

  it('yields the same events however the bytes are split (property, 300 seeds)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const want = Array.from({ length: 1 + Math.floor(r() * 6) }, () =>
        JSON.stringify({ t: randomText(r, 30) }),
      );
      const eol = ['\n', '\r\n', '\r'][seed % 3];
      const text = want.map((w) => `data: ${w}${eol}${eol}`).join('');
      const d = new SSEDecoder();
      const got = splitRandomly(enc.encode(text), r, 1 + Math.floor(r() * 11)).flatMap((c) => d.push(c));
      got.push(...d.end());
      expect(got.map((g) => g.data), `seed ${seed}`).toEqual(want);
    }
  });

  it('never throws on random bytes (fuzz, 1000 inputs)', () => {
    for (let seed = 1; seed <= 1000; seed++) {
      const r = rng(seed);
      const d = new SSEDecoder();
      const bytes = Uint8Array.from({ length: Math.floor(r() * 80) }, () => Math.floor(r() * 256));
      for (const c of splitRandomly(bytes, r, 7)) d.push(c);
      d.end();
    }
  });
});
