// Number, duration and date formatting shared by every screen.

/** ms formats a duration in milliseconds: "850 ms", "1.25 s", "2 min 5 s". */
export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v < 0) return '–';
  if (v < 10) return `${v.toFixed(1)} ms`;
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(v < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(v / 60_000);
  const s = Math.round((v - m * 60_000) / 1000);
  return s ? `${m} min ${s} s` : `${m} min`;
}

/** rate formats tokens per second: "42.3 tok/s". */
export function rate(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v) || v < 0) return '–';
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} tok/s`;
}

/** count formats an integer with thousands separators: 12,345. */
export function count(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return Math.round(v).toLocaleString('en-US');
}

/** compact formats large numbers briefly: 950, 1.2k, 3.4M. */
export function compact(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a < 1000) return String(Math.round(v * 100) / 100);
  if (a < 1e6) return `${(v / 1e3).toFixed(a < 1e4 ? 1 : 0)}k`;
  if (a < 1e9) return `${(v / 1e6).toFixed(a < 1e7 ? 1 : 0)}M`;
  return `${(v / 1e9).toFixed(1)}G`;
}

/** bytes formats a byte size in binary units: "512 B", "1.5 KiB". */
export function bytes(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v) || v < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let x = v;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return i === 0 ? `${x} B` : `${x.toFixed(x < 10 ? 2 : 1)} ${units[i]}`;
}

/** percent formats a ratio 0..1 as "12.5%". */
export function percent(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return `${(v * 100).toFixed(digits)}%`;
}

/** dateTime formats an RFC 3339 string or epoch ms as "2026-12-06 23:05:07" in UTC. */
export function dateTime(v: string | number | null | undefined): string {
  if (v === null || v === undefined || v === '') return '–';
  const d = typeof v === 'number' ? new Date(v) : new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '').replace('Z', '');
}

/** ago formats the time from then to now: "5 s ago", "3 min ago". */
export function ago(then: string | number, now: number = Date.now()): string {
  const t = typeof then === 'number' ? then : Date.parse(then);
  if (Number.isNaN(t)) return '–';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}
