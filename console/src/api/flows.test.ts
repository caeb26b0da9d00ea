import { describe, expect, it } from 'vitest';
import { concat, rng, splitRandomly } from '../test/rand';
import { Client } from './client';
import { encodeMessage } from './eventstream';
import { flowEvent, invokeFlow, traceNode, type FlowEvent } from './flows';

const enc = new TextEncoder();
const ev = (type: string, body: unknown) => encodeMessage({ ':event-type': type, ':message-type': 'event', ':content-type': 'application/json' }, enc.encode(JSON.stringify(body)));

describe('flow events', () => {
  it('maps each InvokeFlow event', () => {
    const j = (v: unknown) => enc.encode(JSON.stringify(v));
    expect(flowEvent({ ':event-type': 'flowOutputEvent', ':message-type': 'event' }, j({ nodeName: 'FlowOutput', nodeType: 'OutputNode', content: { document: 'hi' } }))).toEqual({
      kind: 'output',
      nodeName: 'FlowOutput',
      document: 'hi',
    });
    expect(flowEvent({ ':event-type': 'flowCompletionEvent', ':message-type': 'event' }, j({ completionReason: 'SUCCESS' }))).toEqual({ kind: 'completion', reason: 'SUCCESS' });
    expect(flowEvent({ ':event-type': 'flowMultiTurnInputRequestEvent', ':message-type': 'event' }, j({ nodeName: 'Agent', content: { document: 'Which city?' } }))).toEqual({
      kind: 'input-request',
      nodeName: 'Agent',
      document: 'Which city?',
    });
    expect(flowEvent({ ':message-type': 'exception', ':exception-type': 'validationException' }, j({ message: 'bad input' }))).toEqual({
      kind: 'error',
      type: 'validationException',
      message: 'bad input',
    });
    expect(flowEvent({ ':event-type': 'somethingNew', ':message-type': 'event' }, j({}))).toBeNull();
  });

  it('names the node of a trace', () => {
    expect(traceNode({ nodeInputTrace: { nodeName: 'Prompt', fields: [] } })).toEqual({ node: 'Prompt', kind: 'nodeInputTrace' });
    expect(traceNode({ conditionNodeResultTrace: { nodeName: 'Cond', satisfiedConditions: [] } })).toEqual({ node: 'Cond', kind: 'conditionNodeResultTrace' });
    expect(traceNode({})).toEqual({ node: '', kind: '' });
  });

  it('streams an invocation and reports the execution ID (10 seeds of chunking)', async () => {
    const bytes = concat([
      ev('flowTraceEvent', { trace: { nodeOutputTrace: { nodeName: 'FlowInput', fields: [] } } }),
      ev('flowOutputEvent', { nodeName: 'FlowOutput', content: { document: { answer: 42 } } }),
      ev('flowCompletionEvent', { completionReason: 'SUCCESS' }),
    ]);
    for (let seed = 1; seed <= 10; seed++) {
      const r = rng(seed);
      let sent: RequestInit | undefined;
      let url = '';
      const c = new Client(async (u, init) => {
        url = u;
        sent = init;
        const chunks = splitRandomly(bytes, r, 31);
        let i = 0;
        return new Response(new ReadableStream({ pull: (ctl) => (i < chunks.length ? ctl.enqueue(chunks[i++]) : ctl.close()) }), {
          headers: { 'x-amz-bedrock-flow-execution-id': 'exec-1' },
        });
      });
      let exec = '';
      const got: FlowEvent[] = [];
      for await (const e of invokeFlow(c, { flowId: 'F1', aliasId: 'TSTALIASID', nodeName: 'FlowInput', document: 'q', executionId: 'prev' }, (id) => (exec = id))) got.push(e);
      expect(url).toBe('/flows/F1/aliases/TSTALIASID');
      expect(JSON.parse(String(sent?.body))).toEqual({ inputs: [{ nodeName: 'FlowInput', content: { document: 'q' } }], enableTrace: true, executionId: 'prev' });
      expect(exec).toBe('exec-1');
      expect(got.map((g) => g.kind)).toEqual(['trace', 'output', 'completion']);
    }
  });
});
