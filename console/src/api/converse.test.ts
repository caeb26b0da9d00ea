import { describe, expect, it } from 'vitest';
import { concat, rng, splitRandomly } from '../test/rand';
import { Client } from './client';
import { chatBody, chatChunkEvents, chatStream, converseBody, converseEvent, converseStream, type ChatRequest, type StreamEvent } from './converse';
import { encodeMessage } from './eventstream';

const enc = new TextEncoder();

const req: ChatRequest = {
  modelId: 'smollm2',
  messages: [
    { role: 'user', text: 'hi' },
    { role: 'assistant', text: 'hello', cachePoint: true },
    { role: 'user', text: 'more' },
  ],
  system: 'be brief',
  systemCachePoint: true,
  inference: { maxTokens: 64, temperature: 0.2, stopSequences: ['END'] },
  latency: 'optimized',
  guardrail: { id: 'gr1', version: '2' },
};

function event(type: string, body: unknown) {
  return encodeMessage({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, enc.encode(JSON.stringify(body)));
}

function streamResponse(chunks: Uint8Array[], type: string): Response {
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(ctl) {
      if (i < chunks.length) ctl.enqueue(chunks[i++]);
      else ctl.close();
    },
  });
  return new Response(body, { status: 200, headers: { 'Content-Type': type } });
}

async function collect(g: AsyncGenerator<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const e of g) out.push(e);
  return out;
}

describe('converseBody', () => {
  it('builds the ConverseStream request', () => {
    expect(converseBody(req)).toEqual({
      messages: [
        { role: 'user', content: [{ text: 'hi' }] },
        { role: 'assistant', content: [{ text: 'hello' }, { cachePoint: { type: 'default' } }] },
        { role: 'user', content: [{ text: 'more' }] },
      ],
      system: [{ text: 'be brief' }, { cachePoint: { type: 'default' } }],
      inferenceConfig: { maxTokens: 64, temperature: 0.2, stopSequences: ['END'] },
      performanceConfig: { latency: 'optimized' },
      guardrailConfig: { guardrailIdentifier: 'gr1', guardrailVersion: '2', trace: 'enabled', streamProcessingMode: 'sync' },
    });
  });

  it('omits what is unset', () => {
    const b = converseBody({ modelId: 'm', messages: [{ role: 'user', text: 'x' }], inference: {}, latency: 'standard' });
    expect(b).toEqual({ messages: [{ role: 'user', content: [{ text: 'x' }] }] });
  });
});

describe('converseEvent', () => {
  it('maps deltas, stop, metadata and exceptions', () => {
    const j = (v: unknown) => enc.encode(JSON.stringify(v));
    expect(converseEvent({ ':event-type': 'contentBlockDelta', ':message-type': 'event' }, j({ delta: { text: 'a' } }))).toEqual({ kind: 'text', text: 'a' });
    expect(converseEvent({ ':event-type': 'messageStart', ':message-type': 'event' }, j({ role: 'assistant' }))).toBeNull();
    expect(converseEvent({ ':event-type': 'messageStop', ':message-type': 'event' }, j({ stopReason: 'max_tokens' }))).toEqual({ kind: 'stop', stopReason: 'max_tokens' });
    expect(
      converseEvent(
        { ':event-type': 'metadata', ':message-type': 'event' },
        j({ usage: { inputTokens: 3, outputTokens: 5, totalTokens: 8, cacheReadInputTokens: 2 }, metrics: { latencyMs: 120 }, trace: { guardrail: { x: 1 } }, performanceConfig: { latency: 'optimized' } }),
      ),
    ).toEqual({
      kind: 'usage',
      usage: { inputTokens: 3, outputTokens: 5, totalTokens: 8, cacheReadInputTokens: 2, cacheWriteInputTokens: undefined },
      latencyMs: 120,
      trace: { guardrail: { x: 1 } },
      latency: 'optimized',
    });
    expect(
      converseEvent({ ':exception-type': 'throttlingException', ':message-type': 'exception' }, j({ message: 'slow down' })),
    ).toEqual({ kind: 'error', type: 'throttlingException', message: 'slow down' });
    expect(converseEvent({ ':event-type': 'metadata', ':message-type': 'event' }, enc.encode('{oops'))).toMatchObject({ kind: 'error' });
  });
});

describe('converseStream', () => {
  it('streams a real-shaped answer split at random points (20 seeds)', async () => {
    const bytes = concat([
      event('messageStart', { role: 'assistant' }),
      event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hel' } }),
      event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'lo 🙂' } }),
      event('contentBlockStop', { contentBlockIndex: 0 }),
      event('messageStop', { stopReason: 'end_turn' }),
      event('metadata', { usage: { inputTokens: 4, outputTokens: 3, totalTokens: 7 }, metrics: { latencyMs: 42 } }),
    ]);
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(seed);
      const calls: { url: string; init: RequestInit }[] = [];
      const c = new Client(async (url, init) => {
        calls.push({ url, init });
        return streamResponse(splitRandomly(bytes, r, 23), 'application/vnd.amazon.eventstream');
      });
      c.setCSRF('t');
      const got = await collect(converseStream(c, req));
      expect(calls[0].url).toBe('/model/smollm2/converse-stream');
      expect((calls[0].init.headers as Record<string, string>)['X-Outcrop-CSRF']).toBe('t');
      expect(got.filter((e) => e.kind === 'text').map((e) => (e as { text: string }).text).join('')).toBe('Hello 🙂');
      expect(got.at(-2)).toEqual({ kind: 'stop', stopReason: 'end_turn' });
      expect(got.at(-1)).toMatchObject({ kind: 'usage', latencyMs: 42, usage: { outputTokens: 3 } });
    }
  });

  it('reports a stream cut inside a message', async () => {
    const msg = event('contentBlockDelta', { delta: { text: 'x' } });
    const c = new Client(async () => streamResponse([msg, msg.subarray(0, 10)], 'application/vnd.amazon.eventstream'));
    const got = await collect(converseStream(c, req));
    expect(got).toEqual([{ kind: 'text', text: 'x' }, { kind: 'error', type: 'StreamError', message: 'the stream ended inside a message' }]);
  });

  it('escapes the model id in the path', async () => {
    let url = '';
    const c = new Client(async (u) => {
      url = u;
      return streamResponse([], 'application/vnd.amazon.eventstream');
    });
    await collect(converseStream(c, { ...req, modelId: 'arn:aws:bedrock:us-east-1::foundation-model/a/b' }));
    expect(url).toBe('/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Fa%2Fb/converse-stream');
  });
});

describe('OpenAI chat stream', () => {
  it('builds the request body', () => {
    expect(chatBody(req)).toEqual({
      model: 'smollm2',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
        { role: 'user', content: 'more' },
      ],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 64,
      temperature: 0.2,
      stop: ['END'],
    });
  });

  it('maps chunks, finish reasons, usage and errors', () => {
    expect(chatChunkEvents('[DONE]')).toEqual([]);
    expect(chatChunkEvents('{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}')).toEqual([{ kind: 'text', text: 'a' }]);
    expect(chatChunkEvents('{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}')).toEqual([{ kind: 'stop', stopReason: 'max_tokens' }]);
    expect(chatChunkEvents('{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":4}}}')).toEqual([
      { kind: 'usage', usage: { inputTokens: 5, outputTokens: 2, totalTokens: 7, cacheReadInputTokens: 4 } },
    ]);
    expect(chatChunkEvents('{"error":{"message":"boom","type":"server_error"}}')).toEqual([{ kind: 'error', type: 'server_error', message: 'boom' }]);
    expect(chatChunkEvents('nope')[0].kind).toBe('error');
  });

  it('streams an SSE answer split at random points (20 seeds)', async () => {
    const text =
      'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n' +
      'data: {"choices":[{"index":0,"delta":{"content":"Hé"}}]}\n\n' +
      'data: {"choices":[{"index":0,"delta":{"content":"llo"},"finish_reason":"stop"}]}\n\n' +
      'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n' +
      'data: [DONE]\n\n';
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(seed);
      const c = new Client(async () => streamResponse(splitRandomly(enc.encode(text), r, 13), 'text/event-stream'));
      const got = await collect(chatStream(c, req));
      expect(got).toEqual([
        { kind: 'text', text: 'Hé' },
        { kind: 'text', text: 'llo' },
        { kind: 'stop', stopReason: 'end_turn' },
        { kind: 'usage', usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5, cacheReadInputTokens: undefined } },
      ]);
    }
  });
});
