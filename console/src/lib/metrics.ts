// Per-answer latency figures measured in the browser while a stream arrives.
import type { Usage } from '../api/converse';

/** AnswerMetrics are the figures shown under each answer. */
export interface AnswerMetrics {
  /** ttftMs is the time from sending the request to the first text delta. */
  ttftMs: number | null;
  /** e2eMs is the time from sending the request to the end of the stream. */
  e2eMs: number | null;
  /** otps is output tokens per second after the first token. */
  otps: number | null;
  usage: Usage | null;
  stopReason: string;
  /** serverLatencyMs is metrics.latencyMs as the server reported it. */
  serverLatencyMs?: number;
}

/** Timer records the instants of one streamed answer. */
export class Timer {
  private readonly start: number;
  private first: number | null = null;
  private last: number | null = null;
  private readonly now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.now = now;
    this.start = now();
  }

  /** token marks a text delta. */
  token() {
    const t = this.now();
    if (this.first === null) this.first = t;
    this.last = t;
  }

  /** finish computes the metrics with the usage the stream reported. */
  finish(usage: Usage | null, stopReason: string, serverLatencyMs?: number): AnswerMetrics {
    const end = this.now();
    const ttft = this.first === null ? null : this.first - this.start;
    const e2e = end - this.start;
    return {
      ttftMs: ttft,
      e2eMs: e2e,
      otps: outputRate(usage?.outputTokens ?? null, ttft, this.last === null ? null : this.last - this.start),
      usage,
      stopReason,
      serverLatencyMs,
    };
  }
}

/**
 * outputRate is output tokens per second over the generation phase: the
 * first token arrives at ttft, the rest over (lastMs - ttft). With one token
 * or no spread it is unknown (null) rather than infinite.
 */
export function outputRate(outputTokens: number | null, ttftMs: number | null, lastMs: number | null): number | null {
  if (outputTokens === null || ttftMs === null || lastMs === null) return null;
  const span = lastMs - ttftMs;
  if (outputTokens < 2 || span <= 0) return null;
  return ((outputTokens - 1) * 1000) / span;
}
