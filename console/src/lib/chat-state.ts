// Conversation state of one playground pane, as pure functions so the
// streaming logic is unit-tested without a browser.
import type { ChatMessage, StreamEvent, Usage } from '../api/converse';
import type { AnswerMetrics } from './metrics';

/** Turn is one message shown in a pane. */
export interface Turn {
  role: 'user' | 'assistant';
  text: string;
  streaming?: boolean;
  error?: string;
  metrics?: AnswerMetrics;
  stopReason?: string;
  usage?: Usage;
  serverLatencyMs?: number;
  /** guardrailTrace is the metadata trace.guardrail the server reported. */
  guardrailTrace?: unknown;
  /** profile is the latency profile the server reported it used. */
  profile?: string;
}

/** history returns the turns to send as the conversation: finished turns only, no errors. */
export function history(turns: Turn[], cacheLast: boolean): ChatMessage[] {
  const msgs: ChatMessage[] = [];
  for (const t of turns) {
    if (t.error || t.streaming) continue;
    if (t.role === 'assistant' && t.text === '') continue;
    msgs.push({ role: t.role, text: t.text });
  }
  // Bedrock requires alternating roles starting with the user: merge repeats.
  const merged: ChatMessage[] = [];
  for (const m of msgs) {
    const last = merged[merged.length - 1];
    if (last && last.role === m.role) last.text += '\n\n' + m.text;
    else merged.push({ ...m });
  }
  while (merged.length && merged[0].role !== 'user') merged.shift();
  if (cacheLast && merged.length > 1) merged[merged.length - 2].cachePoint = true;
  return merged;
}

/** applyEvent folds one stream event into the last (assistant) turn. */
export function applyEvent(turns: Turn[], ev: StreamEvent): Turn[] {
  if (turns.length === 0) return turns;
  const last = { ...turns[turns.length - 1] };
  switch (ev.kind) {
    case 'text':
      last.text += ev.text;
      break;
    case 'stop':
      last.stopReason = ev.stopReason;
      break;
    case 'usage':
      last.usage = ev.usage;
      last.serverLatencyMs = ev.latencyMs;
      if (ev.trace && typeof ev.trace === 'object' && 'guardrail' in ev.trace) {
        last.guardrailTrace = (ev.trace as { guardrail: unknown }).guardrail;
      }
      if (ev.latency) last.profile = ev.latency;
      break;
    case 'error':
      last.error = ev.type ? `${ev.type}: ${ev.message}` : ev.message;
      break;
  }
  return [...turns.slice(0, -1), last];
}

/** finish marks the last turn done with its metrics (and an error, if any). */
export function finish(turns: Turn[], metrics: AnswerMetrics | undefined, error?: string): Turn[] {
  if (turns.length === 0) return turns;
  const last = { ...turns[turns.length - 1], streaming: false };
  if (metrics) last.metrics = metrics;
  if (error && !last.error) last.error = error;
  return [...turns.slice(0, -1), last];
}

/** GuardrailAction summarises what a guardrail did to one answer. */
export interface GuardrailAction {
  where: string;
  policy: string;
  action: string;
  detail: string;
}

/**
 * guardrailActions lists the assessments of a ConverseStream guardrail trace
 * ({inputAssessment:{id:{...}}, outputAssessments:{id:[{...}]}}) that acted.
 */
export function guardrailActions(trace: unknown): GuardrailAction[] {
  if (!trace || typeof trace !== 'object') return [];
  const t = trace as Record<string, unknown>;
  const out: GuardrailAction[] = [];
  const visit = (where: string, a: unknown) => {
    if (!a || typeof a !== 'object') return;
    for (const act of assessmentActions(a as Record<string, unknown>)) out.push({ where, ...act });
  };
  const input = t.inputAssessment;
  if (input && typeof input === 'object') for (const a of Object.values(input)) visit('input', a);
  const output = t.outputAssessments;
  if (output && typeof output === 'object') {
    for (const list of Object.values(output)) if (Array.isArray(list)) for (const a of list) visit('output', a);
  }
  return out;
}

/** assessmentActions lists the findings of one GuardrailAssessment (ApplyGuardrail's shape). */
export function assessmentActions(a: Record<string, unknown>): { policy: string; action: string; detail: string }[] {
  const out: { policy: string; action: string; detail: string }[] = [];
  const arr = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? (v as Record<string, unknown>[]) : []);
  const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});
  for (const f of arr(obj(a.topicPolicy).topics)) out.push({ policy: 'topic', action: String(f.action ?? ''), detail: String(f.name ?? '') });
  for (const f of arr(obj(a.contentPolicy).filters))
    out.push({ policy: 'content', action: String(f.action ?? ''), detail: `${String(f.type ?? '')} (${String(f.confidence ?? '')})` });
  const wp = obj(a.wordPolicy);
  for (const f of arr(wp.customWords)) out.push({ policy: 'word', action: String(f.action ?? ''), detail: String(f.match ?? '') });
  for (const f of arr(wp.managedWordLists)) out.push({ policy: 'word', action: String(f.action ?? ''), detail: String(f.match ?? '') });
  const si = obj(a.sensitiveInformationPolicy);
  for (const f of arr(si.piiEntities)) out.push({ policy: 'pii', action: String(f.action ?? ''), detail: String(f.type ?? '') });
  for (const f of arr(si.regexes)) out.push({ policy: 'regex', action: String(f.action ?? ''), detail: String(f.name ?? f.regex ?? '') });
  for (const f of arr(obj(a.contextualGroundingPolicy).filters))
    out.push({ policy: 'grounding', action: String(f.action ?? ''), detail: `${String(f.type ?? '')} ${String(f.score ?? '')}` });
  for (const f of arr(obj(a.automatedReasoningPolicy).findings)) out.push({ policy: 'reasoning', action: 'FINDING', detail: Object.keys(f)[0] ?? '' });
  return out.filter((x) => x.action !== 'NONE');
}
