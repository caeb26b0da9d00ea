// Small SVG charts drawn with our own code (no chart library): a line chart
// for time series and a radar chart for evaluation scores. Each has an
// accessible name and a data table for screen readers.
import { useId } from 'react';
import { linear, niceTicks, pathOf, radarPoints, timeLabel, type Point } from '../lib/chart';

/** Series is one named line. */
export interface Series {
  name: string;
  points: Point[];
}

const W = 400;
const H = 210;
const PAD = { l: 50, r: 12, t: 10, b: 24 };

/** LineChart draws series over time (x in epoch ms) or over a numeric x. */
export function LineChart({
  title,
  series,
  format = (v) => String(v),
  time = true,
  xLabel,
  xDomain,
}: {
  title: string;
  series: Series[];
  format?: (v: number) => string;
  time?: boolean;
  xLabel?: (v: number) => string;
  /** xDomain fixes the x range (a dashboard's time window) instead of fitting the data. */
  xDomain?: [number, number];
}) {
  const id = useId();
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.map((p) => p.y).filter((y): y is number => y !== null && Number.isFinite(y)));
  const x0 = xDomain ? xDomain[0] : xs.length ? Math.min(...xs) : 0;
  const x1 = xDomain ? xDomain[1] : xs.length ? Math.max(...xs) : 1;
  const yt = niceTicks(Math.min(0, ...ys), ys.length ? Math.max(...ys) : 1, 4);
  const sx = linear(x0, x1, PAD.l, W - PAD.r);
  const sy = linear(yt[0], yt[yt.length - 1], H - PAD.b, PAD.t);
  const integral = !time && xs.every((v) => Number.isInteger(v));
  const xt = (time ? niceTicks(x0, x1, 5) : niceTicks(x0, x1, 6)).filter((v) => v >= x0 && v <= x1 && (!integral || Number.isInteger(v)));
  const xl = xLabel ?? (time ? (v: number) => timeLabel(v, x1 - x0) : format);
  return (
    <figure className="chart-fig">
      <figcaption id={id}>{title}</figcaption>
      {ys.length === 0 ? (
        <p className="muted">No data in this range.</p>
      ) : (
        <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={id} width="100%">
          {yt.map((v) => (
            <g key={`y${v}`}>
              <line className="grid" x1={PAD.l} x2={W - PAD.r} y1={sy(v)} y2={sy(v)} />
              <text x={PAD.l - 6} y={sy(v) + 4} textAnchor="end">
                {format(v)}
              </text>
            </g>
          ))}
          {xt.map((v) => (
            <text key={`x${v}`} x={sx(v)} y={H - 8} textAnchor="middle">
              {xl(v)}
            </text>
          ))}
          <line className="axis" x1={PAD.l} x2={W - PAD.r} y1={H - PAD.b} y2={H - PAD.b} />
          {series.map((s, i) => (
            <path key={s.name} d={pathOf(s.points, sx, sy)} fill="none" stroke={`var(--chart-${(i % 6) + 1})`} strokeWidth={2} />
          ))}
          {series.map((s, i) =>
            s.points.length <= 40
              ? s.points
                  .filter((p) => p.y !== null)
                  .map((p) => <circle key={`${s.name}${p.x}`} cx={sx(p.x)} cy={sy(p.y!)} r={2.5} fill={`var(--chart-${(i % 6) + 1})`} />)
              : null,
          )}
        </svg>
      )}
      {series.length > 1 && <Legend names={series.map((s) => s.name)} />}
    </figure>
  );
}

/** Legend lists series names with their colours. */
export function Legend({ names }: { names: string[] }) {
  return (
    <ul className="legend">
      {names.map((n, i) => (
        <li key={n}>
          <svg className="swatch" width="12" height="12" aria-hidden="true">
            <rect width="12" height="12" fill={`var(--chart-${(i % 6) + 1})`} />
          </svg>
          {n}
        </li>
      ))}
    </ul>
  );
}

/** RadarChart draws one polygon per series over the same axes (values 0..max). */
export function RadarChart({ title, axes, series, max = 1 }: { title: string; axes: string[]; series: { name: string; values: number[] }[]; max?: number }) {
  const id = useId();
  const size = 300;
  const c = size / 2;
  const r = c - 60;
  if (axes.length < 3) return <p className="muted">A radar chart needs at least three metrics.</p>;
  const rings = [0.25, 0.5, 0.75, 1];
  return (
    <figure className="chart-fig">
      <figcaption id={id}>{title}</figcaption>
      <svg className="chart" viewBox={`0 0 ${size} ${size}`} role="img" aria-labelledby={id} width="100%" style={{ maxWidth: 360 }}>
        {rings.map((k) => (
          <polygon key={k} className="grid" fill="none" points={radarPoints(axes.map(() => max * k), max, c, c, r).map((p) => p.join(',')).join(' ')} />
        ))}
        {radarPoints(axes.map(() => max), max, c, c, r).map(([x, y], i) => (
          <g key={axes[i]}>
            <line className="axis" x1={c} y1={c} x2={x} y2={y} />
            <text x={c + (x - c) * 1.18} y={c + (y - c) * 1.18 + 4} textAnchor={Math.abs(x - c) < 5 ? 'middle' : x > c ? 'start' : 'end'}>
              {axes[i]}
            </text>
          </g>
        ))}
        {series.map((s, i) => (
          <polygon
            key={s.name}
            points={radarPoints(s.values, max, c, c, r).map((p) => p.join(',')).join(' ')}
            fill={`var(--chart-${(i % 6) + 1})`}
            fillOpacity={0.18}
            stroke={`var(--chart-${(i % 6) + 1})`}
            strokeWidth={2}
          />
        ))}
      </svg>
      <Legend names={series.map((s) => s.name)} />
      <table className="sr-only">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th>Series</th>
            {axes.map((a) => (
              <th key={a}>{a}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {series.map((s) => (
            <tr key={s.name}>
              <th>{s.name}</th>
              {s.values.map((v, i) => (
                <td key={axes[i]}>{v.toFixed(3)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
