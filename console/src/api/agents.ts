// InvokeAgent over the event stream: answer chunks (base64 bytes) and traces.
import { ApiError, Client } from './client';
import { EventStreamDecoder } from './eventstream';

/** AgentEvent is one event of an InvokeAgent response. */
export type AgentEvent =
  | { kind: 'chunk'; text: string }
  | { kind: 'trace'; trace: Record<string, unknown> }
  | { kind: 'return-control'; payload: unknown }
  | { kind: 'error'; type: string; message: string };

const utf8 = new TextDecoder();

/** base64Text decodes standard base64 into UTF-8 text ("" for invalid input). */
export function base64Text(b64: string): string {
  try {
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return utf8.decode(bytes);
  } catch {
    return '';
  }
}

/** agentEvent maps one decoded message to an AgentEvent (null when ignored). */
export function agentEvent(headers: Record<string, unknown>, payload: Uint8Array): AgentEvent | null {
  let body: Record<string, unknown>;
  try {
    body = payload.length ? (JSON.parse(utf8.decode(payload)) as Record<string, unknown>) : {};
  } catch {
    return { kind: 'error', type: 'DecodeError', message: 'event payload is not JSON' };
  }
  if (headers[':message-type'] === 'exception' || headers[':message-type'] === 'error') {
    return { kind: 'error', type: String(headers[':exception-type'] ?? headers[':error-code'] ?? 'Error'), message: typeof body.message === 'string' ? body.message : 'the agent failed' };
  }
  switch (headers[':event-type']) {
    case 'chunk':
      return { kind: 'chunk', text: typeof body.bytes === 'string' ? base64Text(body.bytes) : '' };
    case 'trace':
      return { kind: 'trace', trace: (body.trace ?? {}) as Record<string, unknown> };
    case 'returnControl':
      return { kind: 'return-control', payload: body };
    default:
      return null;
  }
}

/** invokeAgent sends one turn and yields its events. */
export async function* invokeAgent(c: Client, agentId: string, aliasId: string, sessionId: string, inputText: string, signal?: AbortSignal): AsyncGenerator<AgentEvent> {
  const res = await c.raw(`/agents/${encodeURIComponent(agentId)}/agentAliases/${encodeURIComponent(aliasId)}/sessions/${encodeURIComponent(sessionId)}/text`, {
    method: 'POST',
    body: { inputText, enableTrace: true },
    headers: { Accept: 'application/vnd.amazon.eventstream' },
    signal,
  });
  if (!res.body) throw new ApiError(res.status, 'the response has no body');
  const d = new EventStreamDecoder();
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const m of d.push(value)) {
        const ev = agentEvent(m.headers, m.payload);
        if (ev) yield ev;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** traceStep summarises one agent trace for the trace list: its kind and a short text. */
export function traceStep(trace: Record<string, unknown>): { kind: string; text: string } {
  const [kind, v] = Object.entries(trace)[0] ?? ['', null];
  if (!v || typeof v !== 'object') return { kind, text: '' };
  const inner = Object.entries(v as Record<string, unknown>).find(([k]) => k !== 'traceId');
  if (!inner) return { kind, text: '' };
  const [step, detail] = inner;
  let text = '';
  if (detail && typeof detail === 'object') {
    const d = detail as Record<string, unknown>;
    text = typeof d.text === 'string' ? d.text : typeof d.rationale === 'string' ? d.rationale : JSON.stringify(d).slice(0, 200);
  } else if (typeof detail === 'string') text = detail;
  return { kind: `${kind}.${step}`, text };
}
