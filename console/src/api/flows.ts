// InvokeFlow over the event stream, reduced to the events the test pane shows.
import { ApiError, Client } from './client';
import { EventStreamDecoder } from './eventstream';

/** FlowEvent is one event of an InvokeFlow response. */
export type FlowEvent =
  | { kind: 'output'; nodeName: string; document: unknown }
  | { kind: 'completion'; reason: string }
  | { kind: 'trace'; trace: Record<string, unknown> }
  | { kind: 'input-request'; nodeName: string; document: unknown }
  | { kind: 'error'; type: string; message: string };

const dec = new TextDecoder();

/** flowEvent maps one decoded event-stream message to a FlowEvent (null when ignored). */
export function flowEvent(headers: Record<string, unknown>, payload: Uint8Array): FlowEvent | null {
  let body: Record<string, unknown>;
  try {
    body = payload.length ? (JSON.parse(dec.decode(payload)) as Record<string, unknown>) : {};
  } catch {
    return { kind: 'error', type: 'DecodeError', message: 'event payload is not JSON' };
  }
  if (headers[':message-type'] === 'exception' || headers[':message-type'] === 'error') {
    return {
      kind: 'error',
      type: String(headers[':exception-type'] ?? headers[':error-code'] ?? 'Error'),
      message: typeof body.message === 'string' ? body.message : 'the flow failed',
    };
  }
  const content = (body.content ?? {}) as { document?: unknown };
  switch (headers[':event-type']) {
    case 'flowOutputEvent':
      return { kind: 'output', nodeName: String(body.nodeName ?? ''), document: content.document };
    case 'flowCompletionEvent':
      return { kind: 'completion', reason: String(body.completionReason ?? '') };
    case 'flowTraceEvent':
      return { kind: 'trace', trace: (body.trace ?? {}) as Record<string, unknown> };
    case 'flowMultiTurnInputRequestEvent':
      return { kind: 'input-request', nodeName: String(body.nodeName ?? ''), document: content.document };
    default:
      return null;
  }
}

/** traceNode names the node a trace event is about, and what kind of trace it is. */
export function traceNode(trace: Record<string, unknown>): { node: string; kind: string } {
  for (const [kind, v] of Object.entries(trace)) {
    if (v && typeof v === 'object' && 'nodeName' in v) return { node: String((v as { nodeName: unknown }).nodeName), kind };
  }
  return { node: '', kind: Object.keys(trace)[0] ?? '' };
}

/** InvokeInput is one invocation. */
export interface InvokeInput {
  flowId: string;
  aliasId: string;
  nodeName: string;
  nodeOutputName?: string;
  /** nodeInputName answers a multi-turn input request (with executionId). */
  nodeInputName?: string;
  document: unknown;
  executionId?: string;
}

/** invokeFlow runs InvokeFlow with traces and yields its events; onExecution receives the execution ID. */
export async function* invokeFlow(c: Client, inp: InvokeInput, onExecution?: (id: string) => void, signal?: AbortSignal): AsyncGenerator<FlowEvent> {
  const body: Record<string, unknown> = {
    inputs: [
      {
        nodeName: inp.nodeName,
        ...(inp.nodeOutputName ? { nodeOutputName: inp.nodeOutputName } : {}),
        ...(inp.nodeInputName ? { nodeInputName: inp.nodeInputName } : {}),
        content: { document: inp.document },
      },
    ],
    enableTrace: true,
  };
  if (inp.executionId) body.executionId = inp.executionId;
  const res = await c.raw(`/flows/${encodeURIComponent(inp.flowId)}/aliases/${encodeURIComponent(inp.aliasId)}`, {
    method: 'POST',
    body,
    headers: { Accept: 'application/vnd.amazon.eventstream' },
    signal,
  });
  const ex = res.headers.get('x-amz-bedrock-flow-execution-id');
  if (ex && onExecution) onExecution(ex);
  if (!res.body) throw new ApiError(res.status, 'the response has no body');
  const d = new EventStreamDecoder();
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const m of d.push(value)) {
        const ev = flowEvent(m.headers, m.payload);
        if (ev) yield ev;
      }
    }
  } finally {
    reader.releaseLock();
  }
}
