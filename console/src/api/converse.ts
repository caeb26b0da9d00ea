// Streaming chat through the Bedrock ConverseStream API and the OpenAI chat
// completions stream, both reduced to one event type the playground renders.
import { Client, ApiError } from './client';
import { EventStreamDecoder } from './eventstream';
import { SSEDecoder } from './sse';

/** One message of the conversation. */
export interface ChatMessage {
  role: 'user' | 'assistant';
  text: string;
  /** cachePoint marks a prompt-cache point after this message's text. */
  cachePoint?: boolean;
}

/** Inference parameters of one request. */
export interface Inference {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stopSequences?: string[];
}

/** Everything the playground sends for one answer. */
export interface ChatRequest {
  modelId: string;
  messages: ChatMessage[];
  system?: string;
  systemCachePoint?: boolean;
  inference: Inference;
  latency: 'standard' | 'optimized';
  guardrail?: { id: string; version: string; trace?: boolean };
}

/** Usage reported at the end of an answer. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

/** A normalised stream event. */
export type StreamEvent =
  | { kind: 'text'; text: string }
  | { kind: 'stop'; stopReason: string }
  | { kind: 'usage'; usage: Usage; latencyMs?: number; trace?: unknown; latency?: string }
  | { kind: 'error'; type: string; message: string };

/** converseBody builds the ConverseStream JSON body for req. */
export function converseBody(req: ChatRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {
    messages: req.messages.map((m) => ({
      role: m.role,
      content: [{ text: m.text }, ...(m.cachePoint ? [{ cachePoint: { type: 'default' } }] : [])],
    })),
  };
  if (req.system) {
    body.system = [{ text: req.system }, ...(req.systemCachePoint ? [{ cachePoint: { type: 'default' } }] : [])];
  }
  const ic: Record<string, unknown> = {};
  if (req.inference.maxTokens !== undefined) ic.maxTokens = req.inference.maxTokens;
  if (req.inference.temperature !== undefined) ic.temperature = req.inference.temperature;
  if (req.inference.topP !== undefined) ic.topP = req.inference.topP;
  if (req.inference.stopSequences?.length) ic.stopSequences = req.inference.stopSequences;
  if (Object.keys(ic).length) body.inferenceConfig = ic;
  if (req.latency === 'optimized') body.performanceConfig = { latency: 'optimized' };
  if (req.guardrail?.id) {
    body.guardrailConfig = {
      guardrailIdentifier: req.guardrail.id,
      guardrailVersion: req.guardrail.version || 'DRAFT',
      trace: req.guardrail.trace === false ? 'disabled' : 'enabled',
      streamProcessingMode: 'sync',
    };
  }
  return body;
}

const json = new TextDecoder();

/** converseEvent maps one decoded event-stream message to a StreamEvent (null for ignored events). */
export function converseEvent(headers: Record<string, unknown>, payload: Uint8Array): StreamEvent | null {
  const mtype = headers[':message-type'];
  let body: Record<string, unknown>;
  try {
    body = payload.length ? (JSON.parse(json.decode(payload)) as Record<string, unknown>) : {};
  } catch {
    return { kind: 'error', type: 'DecodeError', message: 'event payload is not JSON' };
  }
  if (mtype === 'exception' || mtype === 'error') {
    const type = String(headers[':exception-type'] ?? headers[':error-code'] ?? 'Error');
    const message =
      typeof body.message === 'string'
        ? body.message
        : String(headers[':error-message'] ?? 'the stream ended with an error');
    return { kind: 'error', type, message };
  }
  switch (headers[':event-type']) {
    case 'contentBlockDelta': {
      const delta = body.delta as { text?: string } | undefined;
      return delta && typeof delta.text === 'string' ? { kind: 'text', text: delta.text } : null;
    }
    case 'messageStop':
      return { kind: 'stop', stopReason: String(body.stopReason ?? '') };
    case 'metadata': {
      const u = (body.usage ?? {}) as Partial<Usage>;
      const m = (body.metrics ?? {}) as { latencyMs?: number };
      const pc = body.performanceConfig as { latency?: string } | undefined;
      return {
        kind: 'usage',
        usage: {
          inputTokens: u.inputTokens ?? 0,
          outputTokens: u.outputTokens ?? 0,
          totalTokens: u.totalTokens ?? (u.inputTokens ?? 0) + (u.outputTokens ?? 0),
          cacheReadInputTokens: u.cacheReadInputTokens,
          cacheWriteInputTokens: u.cacheWriteInputTokens,
        },
        latencyMs: m.latencyMs,
        trace: body.trace,
        latency: pc?.latency,
      };
    }
    default:
      return null;
  }
}

/** converseStream sends req through ConverseStream and yields its events. */
export async function* converseStream(c: Client, req: ChatRequest, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
  const res = await c.raw(`/model/${encodeURIComponent(req.modelId)}/converse-stream`, {
    method: 'POST',
    body: converseBody(req),
    headers: { Accept: 'application/vnd.amazon.eventstream' },
    signal,
  });
  if (!res.body) throw new ApiError(res.status, 'the response has no body');
  const dec = new EventStreamDecoder();
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const msg of dec.push(value)) {
        const ev = converseEvent(msg.headers, msg.payload);
        if (ev) yield ev;
      }
    }
    if (dec.pending > 0) yield { kind: 'error', type: 'StreamError', message: 'the stream ended inside a message' };
  } finally {
    reader.releaseLock();
  }
}

/** chatBody builds the OpenAI /v1/chat/completions body for req. */
export function chatBody(req: ChatRequest): Record<string, unknown> {
  const messages: { role: string; content: string }[] = [];
  if (req.system) messages.push({ role: 'system', content: req.system });
  for (const m of req.messages) messages.push({ role: m.role, content: m.text });
  const body: Record<string, unknown> = {
    model: req.modelId,
    messages,
    stream: true,
    stream_options: { include_usage: true },
  };
  if (req.inference.maxTokens !== undefined) body.max_tokens = req.inference.maxTokens;
  if (req.inference.temperature !== undefined) body.temperature = req.inference.temperature;
  if (req.inference.topP !== undefined) body.top_p = req.inference.topP;
  if (req.inference.stopSequences?.length) body.stop = req.inference.stopSequences;
  return body;
}

const finishToStop: Record<string, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  content_filter: 'content_filtered',
  tool_calls: 'tool_use',
};

/** chatChunkEvents maps one OpenAI stream chunk to StreamEvents. */
export function chatChunkEvents(data: string): StreamEvent[] {
  if (data === '[DONE]') return [];
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(data) as Record<string, unknown>;
  } catch {
    return [{ kind: 'error', type: 'DecodeError', message: 'stream chunk is not JSON' }];
  }
  if (v.error && typeof v.error === 'object') {
    const e = v.error as { message?: string; type?: string };
    return [{ kind: 'error', type: e.type ?? 'Error', message: e.message ?? 'error' }];
  }
  const out: StreamEvent[] = [];
  const choices = Array.isArray(v.choices) ? (v.choices as Record<string, unknown>[]) : [];
  for (const ch of choices) {
    const d = ch.delta as { content?: string } | undefined;
    if (d && typeof d.content === 'string' && d.content) out.push({ kind: 'text', text: d.content });
    if (typeof ch.finish_reason === 'string') {
      out.push({ kind: 'stop', stopReason: finishToStop[ch.finish_reason] ?? ch.finish_reason });
    }
  }
  const u = v.usage as Record<string, unknown> | undefined | null;
  if (u && typeof u === 'object') {
    const details = (u.prompt_tokens_details ?? {}) as { cached_tokens?: number };
    out.push({
      kind: 'usage',
      usage: {
        inputTokens: Number(u.prompt_tokens ?? 0),
        outputTokens: Number(u.completion_tokens ?? 0),
        totalTokens: Number(u.total_tokens ?? 0),
        cacheReadInputTokens: details.cached_tokens,
      },
    });
  }
  return out;
}

/** chatStream sends req through /v1/chat/completions with stream:true. */
export async function* chatStream(c: Client, req: ChatRequest, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
  const res = await c.raw('/v1/chat/completions', {
    method: 'POST',
    body: chatBody(req),
    headers: { Accept: 'text/event-stream' },
    signal,
  });
  if (!res.body) throw new ApiError(res.status, 'the response has no body');
  const dec = new SSEDecoder();
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      const events = done ? dec.end() : dec.push(value);
      for (const e of events) for (const ev of chatChunkEvents(e.data)) yield ev;
      if (done) break;
    }
  } finally {
    reader.releaseLock();
  }
}
