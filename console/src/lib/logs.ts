// Request-log filter state <-> query string of GET /admin/v1/requests.

/** LogFilter is what the Logs screen filters by. */
export interface LogFilter {
  model: string;
  principal: string;
  status: string;
  /** from and to are datetime-local values (UTC), "" when unset. */
  from: string;
  to: string;
}

/** emptyFilter has no filters. */
export const emptyFilter: LogFilter = { model: '', principal: '', status: '', from: '', to: '' };

/** localToRFC3339 turns a datetime-local value read as UTC into RFC 3339 ("" stays ""). */
export function localToRFC3339(v: string): string {
  if (!v) return '';
  const withSeconds = /T\d\d:\d\d$/.test(v) ? `${v}:00` : v;
  const d = new Date(`${withSeconds}Z`);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace('.000Z', 'Z');
}

/** validateFilter returns an error text, or "" when the filter can be sent. */
export function validateFilter(f: LogFilter): string {
  if (f.status && !/^([1-5]xx|[1-5]\d\d)$/.test(f.status.trim())) return 'Status is a code such as 429 or a class such as 4xx.';
  if (f.from && !localToRFC3339(f.from)) return 'From is not a valid time.';
  if (f.to && !localToRFC3339(f.to)) return 'To is not a valid time.';
  if (f.from && f.to && localToRFC3339(f.from) >= localToRFC3339(f.to)) return 'From must be before To.';
  return '';
}

/** filterQuery builds the query parameters of the filter (empty ones omitted by the client). */
export function filterQuery(f: LogFilter, cursor?: string, limit = 50): Record<string, string | undefined> {
  return {
    model: f.model.trim() || undefined,
    principal: f.principal.trim() || undefined,
    status: f.status.trim() || undefined,
    from: localToRFC3339(f.from) || undefined,
    to: localToRFC3339(f.to) || undefined,
    limit: String(limit),
    cursor,
  };
}

/** statusClass maps an HTTP status to a badge class. */
export function statusClass(status: number): string {
  if (status >= 500) return 'error';
  if (status >= 400) return 'warn';
  return 'ok';
}
