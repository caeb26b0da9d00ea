import { describe, expect, it } from 'vitest';
import { concat, randomText, rng, splitRandomly } from '../test/rand';
import { crc32, encodeMessage, EventStreamDecoder, EventStreamError } from './eventstream';

const enc = new TextEncoder();
const dec = new TextDecoder();

describe('crc32', () => {
  it('matches the IEEE check value', () => {
    expect(crc32(enc.encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe('EventStreamDecoder', () => {
  it('decodes a ConverseStream delta', () => {
    const msg = encodeMessage(
      { ':event-type': 'contentBlockDelta', ':content-type': 'application/json', ':message-type': 'event' },
      enc.encode('{"contentBlockIndex":0,"delta":{"text":"Hi"}}'),
    );
    const out = new EventStreamDecoder().push(msg);
    expect(out).toHaveLength(1);
    expect(out[0].headers[':event-type']).toBe('contentBlockDelta');
    expect(JSON.parse(dec.decode(out[0].payload))).toEqual({ contentBlockIndex: 0, delta: { text: 'Hi' } });
  });

  it('decodes every header type', () => {
    // name "b" bool true, "f" bool false, "y" byte -2, "s" short 300, "i" int -5, "l" long 2^40,
    // "x" bytes [1,2], "t" timestamp 1700000000000, "u" uuid 16 bytes
    const h: number[] = [];
    const name = (n: string) => h.push(n.length, ...enc.encode(n));
    name('b'); h.push(0);
    name('f'); h.push(1);
    name('y'); h.push(2, 0xfe);
    name('s'); h.push(3, 0x01, 0x2c);
    name('i'); h.push(4, 0xff, 0xff, 0xff, 0xfb);
    name('l'); h.push(5, 0, 0, 0x01, 0, 0, 0, 0, 0);
    name('x'); h.push(6, 0, 2, 1, 2);
    const ts = new DataView(new ArrayBuffer(8));
    ts.setBigInt64(0, 1700000000000n);
    name('t'); h.push(8, ...new Uint8Array(ts.buffer));
    name('u'); h.push(9, ...Array.from({ length: 16 }, (_, i) => i));
    const headers = Uint8Array.from(h);
    const total = 12 + headers.length + 4;
    const buf = new Uint8Array(total);
    const v = new DataView(buf.buffer);
    v.setUint32(0, total);
    v.setUint32(4, headers.length);
    v.setUint32(8, crc32(buf, 0, 8));
    buf.set(headers, 12);
    v.setUint32(total - 4, crc32(buf, 0, total - 4));
    const [m] = new EventStreamDecoder().push(buf);
    expect(m.headers.b).toBe(true);
    expect(m.headers.f).toBe(false);
    expect(m.headers.y).toBe(-2);
    expect(m.headers.s).toBe(300);
    expect(m.headers.i).toBe(-5);
    expect(m.headers.l).toBe(2n ** 40n);
    expect(Array.from(m.headers.x as Uint8Array)).toEqual([1, 2]);
    expect((m.headers.t as Date).getTime()).toBe(1700000000000);
    expect((m.headers.u as Uint8Array).length).toBe(16);
    expect(m.payload.length).toBe(0);
  });

  it('yields the same messages however the bytes are split (property, 300 seeds)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const n = 1 + Math.floor(r() * 6);
      const want = Array.from({ length: n }, () => ({
        type: randomText(r, 12) || 'e',
        payload: randomText(r, 200),
      }));
      const bytes = concat(want.map((w) => encodeMessage({ ':event-type': w.type }, enc.encode(w.payload))));
      const d = new EventStreamDecoder();
      const got = splitRandomly(bytes, r, 1 + Math.floor(r() * 40)).flatMap((c) => d.push(c));
      expect(got.map((g) => ({ type: g.headers[':event-type'], payload: dec.decode(g.payload) })), `seed ${seed}`).toEqual(want);
      expect(d.pending, `seed ${seed}`).toBe(0);
    }
  });

  it('keeps an incomplete tail pending', () => {
    const msg = encodeMessage({ a: 'b' }, enc.encode('payload'));
    const d = new EventStreamDecoder();
    expect(d.push(msg.subarray(0, msg.length - 1))).toEqual([]);
    expect(d.pending).toBe(msg.length - 1);
    expect(d.push(msg.subarray(msg.length - 1))).toHaveLength(1);
  });

  it('rejects corrupted prelude, message checksum and lengths', () => {
    const msg = encodeMessage({ ':event-type': 'x' }, enc.encode('{}'));
    const flip = (i: number) => {
      const c = msg.slice();
      c[i] ^= 0x40;
      return c;
    };
    expect(() => new EventStreamDecoder().push(flip(1))).toThrow(EventStreamError);
    expect(() => new EventStreamDecoder().push(flip(9))).toThrow(/prelude checksum/);
    expect(() => new EventStreamDecoder().push(flip(msg.length - 3))).toThrow(/message checksum/);
    expect(() => new EventStreamDecoder().push(flip(14))).toThrow(/message checksum/);
  });

  it('throws only EventStreamError on random bytes (fuzz, 2000 inputs)', () => {
    const valid = encodeMessage({ ':event-type': 'metadata', ':message-type': 'event' }, enc.encode('{"usage":{}}'));
    for (let seed = 1; seed <= 2000; seed++) {
      const r = rng(seed);
      let input: Uint8Array;
      if (seed % 2 === 0) {
        input = Uint8Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256));
      } else {
        // Mutate a valid message, then fix the prelude CRC so the body parser is reached.
        input = valid.slice();
        const k = 1 + Math.floor(r() * 4);
        for (let j = 0; j < k; j++) input[12 + Math.floor(r() * (input.length - 12))] = Math.floor(r() * 256);
        const v = new DataView(input.buffer);
        v.setUint32(input.length - 4, crc32(input, 0, input.length - 4));
      }
      try {
        const d = new EventStreamDecoder();
        for (const c of splitRandomly(input, r, 9)) d.push(c);
      } catch (e) {
        expect(e, `seed ${seed}`).toBeInstanceOf(EventStreamError);
      }
    }
  });
});
