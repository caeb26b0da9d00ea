// Scales and ticks for the console's SVG charts.

/** niceStep returns a 1/2/5×10^k step giving about `count` ticks over span. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/** niceTicks returns round tick values covering [min, max], starting at or below min. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (min === max) {
    if (min === 0) return [0, 1];
    const pad = Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const step = niceStep(max - min, count);
  const start = Math.floor(min / step) * step;
  const out: number[] = [];
  for (let v = start; v < max + step * 0.5 && out.length < 50; v += step) out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1] < max) out.push(Number((out[out.length - 1] + step).toPrecision(12)));
  return out;
}

/** linear maps [d0, d1] onto [r0, r1]; a zero-width domain maps to the middle. */
export function linear(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  if (d1 === d0) return () => (r0 + r1) / 2;
  const k = (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/** Point is one sample of a series; y null is a gap. */
export interface Point {
  x: number;
  y: number | null;
}

/** pathOf draws a polyline through the points, breaking at gaps. */
export function pathOf(points: Point[], sx: (v: number) => number, sy: (v: number) => number): string {
  let d = '';
  let pen = false;
  for (const p of points) {
    if (p.y === null || !Number.isFinite(p.y)) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`;
    pen = true;
  }
  return d;
}

/** radarPoints places values 0..max on n spokes starting at 12 o'clock. */
export function radarPoints(values: number[], max: number, cx: number, cy: number, r: number): [number, number][] {
  const n = values.length;
  return values.map((v, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
    const k = max > 0 ? Math.max(0, Math.min(1, v / max)) : 0;
    return [cx + Math.cos(a) * r * k, cy + Math.sin(a) * r * k];
  });
}

/** timeLabel formats an epoch-ms tick as HH:MM (UTC), or MM-DD when spans are days. */
export function timeLabel(ms: number, spanMs: number): string {
  const iso = new Date(ms).toISOString();
  if (spanMs > 2 * 86400_000) return iso.slice(5, 10);
  return iso.slice(11, 16);
}
