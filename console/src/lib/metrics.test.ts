import { describe, expect, it } from 'vitest';
import { outputRate, Timer } from './metrics';

describe('Timer', () => {
  it('measures TTFT, E2E and output rate from a fake clock', () => {
    const times = [1000, 1250, 1300, 1350, 1450, 1500];
    const t = new Timer(() => times.shift()!);
    t.token(); // 1250
    t.token(); // 1300
    t.token(); // 1350
    t.token(); // 1450
    const m = t.finish({ inputTokens: 10, outputTokens: 5, totalTokens: 15 }, 'end_turn', 480);
    expect(m.ttftMs).toBe(250);
    expect(m.e2eMs).toBe(500);
    // 4 tokens after the first over 200 ms
    expect(m.otps).toBeCloseTo(20);
    expect(m.stopReason).toBe('end_turn');
    expect(m.serverLatencyMs).toBe(480);
  });

  it('has no TTFT or rate without tokens', () => {
    const times = [0, 90];
    const t = new Timer(() => times.shift()!);
    const m = t.finish(null, '');
    expect(m.ttftMs).toBeNull();
    expect(m.otps).toBeNull();
    expect(m.e2eMs).toBe(90);
  });
});

describe('outputRate', () => {
  it('is unknown for one token or no spread', () => {
    expect(outputRate(1, 10, 10)).toBeNull();
    expect(outputRate(5, 10, 10)).toBeNull();
    expect(outputRate(null, 10, 20)).toBeNull();
    expect(outputRate(11, 100, 1100)).toBe(10);
  });
});
