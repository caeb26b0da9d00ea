import { describe, expect, it } from 'vitest';
import * as fmt from './format';

describe('format', () => {
  it('formats durations', () => {
    expect(fmt.ms(0.42)).toBe('0.4 ms');
    expect(fmt.ms(850.4)).toBe('850 ms');
    expect(fmt.ms(1250)).toBe('1.25 s');
    expect(fmt.ms(12_340)).toBe('12.3 s');
    expect(fmt.ms(125_000)).toBe('2 min 5 s');
    expect(fmt.ms(120_000)).toBe('2 min');
    expect(fmt.ms(null)).toBe('–');
    expect(fmt.ms(Number.NaN)).toBe('–');
    expect(fmt.ms(-1)).toBe('–');
  });

  it('formats rates, counts and sizes', () => {
    expect(fmt.rate(42.345)).toBe('42.3 tok/s');
    expect(fmt.rate(123.6)).toBe('124 tok/s');
    expect(fmt.rate(undefined)).toBe('–');
    expect(fmt.count(1234567.4)).toBe('1,234,567');
    expect(fmt.compact(950)).toBe('950');
    expect(fmt.compact(1234)).toBe('1.2k');
    expect(fmt.compact(45_000)).toBe('45k');
    expect(fmt.compact(3_400_000)).toBe('3.4M');
    expect(fmt.compact(2.5e9)).toBe('2.5G');
    expect(fmt.bytes(512)).toBe('512 B');
    expect(fmt.bytes(1536)).toBe('1.50 KiB');
    expect(fmt.bytes(100 * 1024 * 1024)).toBe('100.0 MiB');
    expect(fmt.percent(0.125)).toBe('12.5%');
    expect(fmt.percent(undefined)).toBe('–');
  });

  it('formats dates in UTC', () => {
    expect(fmt.dateTime('2026-12-06T23:05:07.123Z')).toBe('2026-12-06 23:05:07');
    expect(fmt.dateTime(0)).toBe('1970-01-01 00:00:00');
    expect(fmt.dateTime('not a date')).toBe('not a date');
    expect(fmt.dateTime('')).toBe('–');
    const now = Date.parse('2026-12-06T12:00:00Z');
    expect(fmt.ago('2026-12-06T11:59:55Z', now)).toBe('5 s ago');
    expect(fmt.ago('2026-12-06T11:57:00Z', now)).toBe('3 min ago');
    expect(fmt.ago('2026-12-06T09:00:00Z', now)).toBe('3 h ago');
    expect(fmt.ago('2026-12-01T12:00:00Z', now)).toBe('5 d ago');
  });
});
