import { describe, expect, it } from 'vitest';
import { emptyFilter, filterQuery, localToRFC3339, statusClass, validateFilter } from './logs';

describe('log filters', () => {
  it('converts datetime-local values as UTC', () => {
    expect(localToRFC3339('2026-12-06T23:05')).toBe('2026-12-06T23:05:00Z');
    expect(localToRFC3339('2026-12-06T23:05:09')).toBe('2026-12-06T23:05:09Z');
    expect(localToRFC3339('')).toBe('');
    expect(localToRFC3339('nonsense')).toBe('');
  });

  it('validates like the server', () => {
    expect(validateFilter(emptyFilter)).toBe('');
    expect(validateFilter({ ...emptyFilter, status: '4xx' })).toBe('');
    expect(validateFilter({ ...emptyFilter, status: '429' })).toBe('');
    expect(validateFilter({ ...emptyFilter, status: '6xx' })).toMatch(/Status/);
    expect(validateFilter({ ...emptyFilter, status: 'abc' })).toMatch(/Status/);
    expect(validateFilter({ ...emptyFilter, from: '2026-12-06T23:05', to: '2026-12-06T23:00' })).toMatch(/before/);
  });

  it('builds the query', () => {
    expect(filterQuery({ ...emptyFilter, model: ' m ', status: '5xx', from: '2026-12-06T23:05' }, 'c1', 20)).toEqual({
      model: 'm',
      principal: undefined,
      status: '5xx',
      from: '2026-12-06T23:05:00Z',
      to: undefined,
      limit: '20',
      cursor: 'c1',
    });
  });

  it('classes statuses', () => {
    expect(statusClass(200)).toBe('ok');
    expect(statusClass(403)).toBe('warn');
    expect(statusClass(503)).toBe('error');
  });
});
