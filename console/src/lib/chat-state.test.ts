import { describe, expect, it } from 'vitest';
import { applyEvent, assessmentActions, finish, guardrailActions, history, type Turn } from './chat-state';

describe('history', () => {
  it('drops failed and streaming turns, merges repeated roles, starts with the user', () => {
    const turns: Turn[] = [
      { role: 'assistant', text: 'orphan' },
      { role: 'user', text: 'a' },
      { role: 'assistant', text: '', error: 'boom' },
      { role: 'user', text: 'b' },
      { role: 'assistant', text: 'B' },
      { role: 'user', text: 'c' },
      { role: 'assistant', text: 'partial', streaming: true },
    ];
    expect(history(turns, false)).toEqual([
      { role: 'user', text: 'a\n\nb' },
      { role: 'assistant', text: 'B' },
      { role: 'user', text: 'c' },
    ]);
  });

  it('puts the cache point before the new message', () => {
    const h = history([{ role: 'user', text: 'a' }, { role: 'assistant', text: 'A' }, { role: 'user', text: 'b' }], true);
    expect(h[1].cachePoint).toBe(true);
    expect(h[2].cachePoint).toBeUndefined();
    expect(history([{ role: 'user', text: 'only' }], true)[0].cachePoint).toBeUndefined();
  });
});

describe('applyEvent and finish', () => {
  it('accumulates text, stop, usage, guardrail trace and errors into the last turn', () => {
    let t: Turn[] = [{ role: 'user', text: 'q' }, { role: 'assistant', text: '', streaming: true }];
    t = applyEvent(t, { kind: 'text', text: 'He' });
    t = applyEvent(t, { kind: 'text', text: 'llo' });
    t = applyEvent(t, { kind: 'stop', stopReason: 'guardrail_intervened' });
    t = applyEvent(t, { kind: 'usage', usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 }, latencyMs: 9, trace: { guardrail: { g: 1 } }, latency: 'optimized' });
    expect(t[1]).toMatchObject({ text: 'Hello', stopReason: 'guardrail_intervened', serverLatencyMs: 9, guardrailTrace: { g: 1 }, profile: 'optimized' });
    t = applyEvent(t, { kind: 'error', type: 'ModelStreamErrorException', message: 'cut' });
    t = finish(t, undefined, 'later error');
    expect(t[1].error).toBe('ModelStreamErrorException: cut');
    expect(t[1].streaming).toBe(false);
    expect(t[0]).toEqual({ role: 'user', text: 'q' });
  });

  it('ignores events with no turns', () => {
    expect(applyEvent([], { kind: 'text', text: 'x' })).toEqual([]);
    expect(finish([], undefined)).toEqual([]);
  });
});

describe('guardrail actions', () => {
  it('lists what acted in a ConverseStream trace', () => {
    const trace = {
      inputAssessment: {
        gr1: {
          sensitiveInformationPolicy: { piiEntities: [{ type: 'CREDIT_DEBIT_CARD_NUMBER', match: '4111…', action: 'BLOCKED' }] },
          contentPolicy: { filters: [{ type: 'HATE', confidence: 'NONE', action: 'NONE' }] },
        },
      },
      outputAssessments: { gr1: [{ wordPolicy: { customWords: [{ match: 'darn', action: 'BLOCKED' }] } }] },
    };
    expect(guardrailActions(trace)).toEqual([
      { where: 'input', policy: 'pii', action: 'BLOCKED', detail: 'CREDIT_DEBIT_CARD_NUMBER' },
      { where: 'output', policy: 'word', action: 'BLOCKED', detail: 'darn' },
    ]);
    expect(guardrailActions(null)).toEqual([]);
    expect(guardrailActions({ inputAssessment: 5, outputAssessments: { x: 'no' } })).toEqual([]);
  });

  it('reads every policy of an ApplyGuardrail assessment', () => {
    const a = assessmentActions({
      topicPolicy: { topics: [{ name: 'Investing', type: 'DENY', action: 'BLOCKED' }] },
      contentPolicy: { filters: [{ type: 'VIOLENCE', confidence: 'HIGH', action: 'BLOCKED' }] },
      wordPolicy: { managedWordLists: [{ match: 'bad', type: 'PROFANITY', action: 'BLOCKED' }] },
      sensitiveInformationPolicy: { regexes: [{ name: 'acct', match: '123', action: 'ANONYMIZED' }] },
      contextualGroundingPolicy: { filters: [{ type: 'GROUNDING', threshold: 0.7, score: 0.2, action: 'BLOCKED' }] },
    });
    expect(a.map((x) => `${x.policy}:${x.action}:${x.detail}`)).toEqual([
      'topic:BLOCKED:Investing',
      'content:BLOCKED:VIOLENCE (HIGH)',
      'word:BLOCKED:bad',
      'regex:ANONYMIZED:acct',
      'grounding:BLOCKED:GROUNDING 0.2',
    ]);
  });
});
