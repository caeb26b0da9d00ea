import { describe, expect, it } from 'vitest';
import { Client } from './client';
import { encodeMessage } from './eventstream';
import { agentEvent, base64Text, invokeAgent, traceStep, type AgentEvent } from './agents';
import { concat } from '../test/rand';

const enc = new TextEncoder();
const ev = (type: string, body: unknown) => encodeMessage({ ':event-type': type, ':message-type': 'event' }, enc.encode(JSON.stringify(body)));
const b64 = (s: string) => btoa(String.fromCharCode(...enc.encode(s)));

describe('agent events', () => {
  it('decodes base64 chunks, including UTF-8', () => {
    expect(base64Text(b64('Grüße 🙂'))).toBe('Grüße 🙂');
    expect(base64Text('%%%')).toBe('');
  });

  it('maps events', () => {
    const j = (v: unknown) => enc.encode(JSON.stringify(v));
    expect(agentEvent({ ':event-type': 'chunk', ':message-type': 'event' }, j({ bytes: b64('hi') }))).toEqual({ kind: 'chunk', text: 'hi' });
    expect(agentEvent({ ':event-type': 'trace', ':message-type': 'event' }, j({ trace: { orchestrationTrace: {} } }))).toEqual({ kind: 'trace', trace: { orchestrationTrace: {} } });
    expect(agentEvent({ ':message-type': 'exception', ':exception-type': 'throttlingException' }, j({ message: 'slow' }))).toEqual({ kind: 'error', type: 'throttlingException', message: 'slow' });
    expect(agentEvent({ ':event-type': 'files', ':message-type': 'event' }, j({}))).toBeNull();
  });

  it('summarises traces', () => {
    expect(traceStep({ orchestrationTrace: { rationale: { text: 'I should look it up', traceId: 't' } } })).toEqual({ kind: 'orchestrationTrace.rationale', text: 'I should look it up' });
    expect(traceStep({ orchestrationTrace: { traceId: 't', observation: { type: 'FINISH' } } })).toEqual({ kind: 'orchestrationTrace.observation', text: '{"type":"FINISH"}' });
    expect(traceStep({})).toEqual({ kind: '', text: '' });
  });

  it('streams a turn', async () => {
    const bytes = concat([ev('trace', { trace: { preProcessingTrace: {} } }), ev('chunk', { bytes: b64('Hello ') }), ev('chunk', { bytes: b64('there') })]);
    let url = '';
    const c = new Client(async (u) => {
      url = u;
      return new Response(new Blob([bytes as Uint8Array<ArrayBuffer>]));
    });
    const got: AgentEvent[] = [];
    for await (const e of invokeAgent(c, 'A1', 'TSTALIASID', 's 1', 'hi')) got.push(e);
    expect(url).toBe('/agents/A1/agentAliases/TSTALIASID/sessions/s%201/text');
    expect(got.filter((g) => g.kind === 'chunk').map((g) => (g as { text: string }).text).join('')).toBe('Hello there');
  });
});
