// Seeded pseudo-random numbers for the property tests, so a failure names
// the seed that reproduces it.

/** rng returns a mulberry32 generator in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** splitRandomly cuts bytes into chunks of random sizes (including empty ones). */
export function splitRandomly(bytes: Uint8Array, r: () => number, maxChunk = 17): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < bytes.length) {
    const n = Math.floor(r() * (maxChunk + 1));
    out.push(bytes.subarray(i, Math.min(bytes.length, i + n)));
    i += n;
  }
  return out;
}

/** randomText returns a string mixing ASCII, multi-byte UTF-8 and newlines. */
export function randomText(r: () => number, max = 40): string {
  const alphabet = ['a', 'b', 'Z', ' ', '\n', '"', '\\', 'é', '漢', '🙂', ':', '{', '}', '\r', 'data', '|', '*', '`', '<', '>'];
  let s = '';
  const n = Math.floor(r() * max);
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

/** concat joins byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
