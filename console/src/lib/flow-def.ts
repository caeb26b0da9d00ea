// The flow builder's model: Bedrock flow definitions (nodes with typed
// inputs and outputs, data and conditional connections) converted to and
// from canvas nodes and edges, node templates for the palette, typed
// connection checks, and validation messages mapped to nodes.

/** IOType is a flow data type. */
export type IOType = 'String' | 'Number' | 'Boolean' | 'Object' | 'Array';

/** NodeInput is an input of a flow node. */
export interface NodeInput {
  name: string;
  type: IOType;
  expression: string;
  category?: string;
}

/** NodeOutput is an output of a flow node. */
export interface NodeOutput {
  name: string;
  type: IOType;
}

/** FlowNode is a node of a flow definition. */
export interface FlowNode {
  name: string;
  type: string;
  configuration?: Record<string, unknown>;
  inputs?: NodeInput[];
  outputs?: NodeOutput[];
}

/** FlowConnection is a connection of a flow definition. */
export interface FlowConnection {
  name: string;
  source: string;
  target: string;
  type: 'Data' | 'Conditional';
  configuration?: { data?: { sourceOutput: string; targetInput: string }; conditional?: { condition: string } };
}

/** FlowDefinition is a Bedrock flow definition. */
export interface FlowDefinition {
  nodes: FlowNode[];
  connections: FlowConnection[];
}

/** CanvasNode is a node as the canvas holds it. */
export interface CanvasNode {
  id: string;
  position: { x: number; y: number };
  data: { node: FlowNode; errors?: string[] };
  type: 'flowNode';
}

/** CanvasEdge is a connection as the canvas holds it; handles are "out:<name>", "in:<name>" or "cond:<name>". */
export interface CanvasEdge {
  id: string;
  source: string;
  target: string;
  sourceHandle: string;
  targetHandle: string;
  label?: string;
  data?: { conditional?: boolean };
}

/** conditionsOf lists a Condition node's condition names (including "default"). */
export function conditionsOf(n: FlowNode): string[] {
  const c = (n.configuration?.condition as { conditions?: { name: string }[] } | undefined)?.conditions;
  return Array.isArray(c) ? c.map((x) => x.name) : [];
}

/** templateVars lists the {{variables}} of a prompt template, in order of first use. */
export function templateVars(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g)) if (!out.includes(m[1])) out.push(m[1]);
  return out;
}

/** PALETTE lists the node types the builder offers. */
export const PALETTE = ['Input', 'Output', 'Prompt', 'Condition', 'KnowledgeBase', 'Agent', 'Iterator', 'Collector', 'InlineCode', 'Storage', 'Retrieval'] as const;

/** newNode returns a node of type with a name unique among taken. */
export function newNode(type: string, taken: string[], modelId = ''): FlowNode {
  const base = type === 'Input' ? 'FlowInput' : type === 'Output' ? 'FlowOutput' : type;
  let name = base;
  for (let i = 2; taken.includes(name); i++) name = `${base}_${i}`;
  const s = (n: string, expression = '$.data'): NodeInput => ({ name: n, type: 'String', expression });
  switch (type) {
    case 'Input':
      return { name, type, configuration: { input: {} }, outputs: [{ name: 'document', type: 'String' }] };
    case 'Output':
      return { name, type, configuration: { output: {} }, inputs: [s('document')] };
    case 'Prompt':
      return {
        name,
        type,
        configuration: {
          prompt: {
            sourceConfiguration: {
              inline: {
                modelId,
                templateType: 'TEXT',
                inferenceConfiguration: { text: { maxTokens: 256, temperature: 0.2 } },
                templateConfiguration: { text: { text: 'Answer briefly: {{question}}', inputVariables: [{ name: 'question' }] } },
              },
            },
          },
        },
        inputs: [s('question')],
        outputs: [{ name: 'modelCompletion', type: 'String' }],
      };
    case 'Condition':
      return {
        name,
        type,
        configuration: { condition: { conditions: [{ name: 'isYes', expression: 'conditionInput == "yes"' }, { name: 'default' }] } },
        inputs: [s('conditionInput')],
      };
    case 'KnowledgeBase':
      return {
        name,
        type,
        configuration: { knowledgeBase: { knowledgeBaseId: '', modelId } },
        inputs: [s('retrievalQuery')],
        outputs: [{ name: 'outputText', type: 'String' }],
      };
    case 'Agent':
      return {
        name,
        type,
        configuration: { agent: { agentAliasArn: '' } },
        inputs: [s('agentInputText')],
        outputs: [{ name: 'agentResponse', type: 'String' }],
      };
    case 'Iterator':
      return {
        name,
        type,
        configuration: { iterator: {} },
        inputs: [{ name: 'array', type: 'Array', expression: '$.data' }],
        outputs: [
          { name: 'arrayItem', type: 'String' },
          { name: 'arraySize', type: 'Number' },
        ],
      };
    case 'Collector':
      return {
        name,
        type,
        configuration: { collector: {} },
        inputs: [s('arrayItem'), { name: 'arraySize', type: 'Number', expression: '$.data' }],
        outputs: [{ name: 'collectedArray', type: 'Array' }],
      };
    case 'InlineCode':
      return {
        name,
        type,
        configuration: { inlineCode: { language: 'Python_3', code: 'text = input_text\ntext.upper()' } },
        inputs: [s('input_text')],
        outputs: [{ name: 'response', type: 'String' }],
      };
    case 'Storage':
      return {
        name,
        type,
        configuration: { storage: { serviceConfiguration: { s3: { bucketName: 'flow-bucket' } } } },
        inputs: [s('content'), s('objectKey')],
        outputs: [{ name: 's3Uri', type: 'String' }],
      };
    case 'Retrieval':
      return {
        name,
        type,
        configuration: { retrieval: { serviceConfiguration: { s3: { bucketName: 'flow-bucket' } } } },
        inputs: [s('objectKey')],
        outputs: [{ name: 's3Content', type: 'String' }],
      };
    default:
      return { name, type, configuration: {}, inputs: [], outputs: [] };
  }
}

/** handleType returns the data type behind a handle of a node, or null. */
export function handleType(n: FlowNode, handle: string): IOType | null {
  if (handle.startsWith('out:')) return n.outputs?.find((o) => o.name === handle.slice(4))?.type ?? null;
  if (handle.startsWith('in:')) return n.inputs?.find((i) => i.name === handle.slice(3))?.type ?? null;
  return null;
}

/**
 * connectionError explains why source's handle cannot feed target's handle,
 * or returns "" when it can: outputs go to inputs of the same data type,
 * conditions to any input, never a node to itself.
 */
export function connectionError(source: FlowNode | undefined, sh: string, target: FlowNode | undefined, th: string): string {
  if (!source || !target) return 'Unknown node.';
  if (source.name === target.name) return 'A node cannot connect to itself.';
  if (!th.startsWith('in:')) return 'Connect to an input.';
  const tt = handleType(target, th);
  if (!tt) return 'Unknown input.';
  if (sh.startsWith('cond:')) return conditionsOf(source).includes(sh.slice(5)) ? '' : 'Unknown condition.';
  const st = handleType(source, sh);
  if (!st) return 'Unknown output.';
  if (st !== tt) return `${source.name}.${sh.slice(4)} is ${st} but ${target.name}.${th.slice(3)} takes ${tt}.`;
  return '';
}

/** layout places nodes in columns by their distance from the inputs. */
export function layout(def: FlowDefinition): Record<string, { x: number; y: number }> {
  const depth: Record<string, number> = {};
  for (const n of def.nodes) depth[n.name] = 0;
  // Longest-path layering, bounded so cycles (DoWhile loops) cannot run away.
  for (let pass = 0; pass < def.nodes.length; pass++) {
    let changed = false;
    for (const c of def.connections) {
      if (depth[c.source] === undefined || depth[c.target] === undefined) continue;
      if (depth[c.target] < depth[c.source] + 1 && depth[c.source] + 1 < def.nodes.length) {
        depth[c.target] = depth[c.source] + 1;
        changed = true;
      }
    }
    if (!changed) break;
  }
  const rows: Record<number, number> = {};
  const out: Record<string, { x: number; y: number }> = {};
  for (const n of def.nodes) {
    const d = depth[n.name];
    const r = rows[d] ?? 0;
    rows[d] = r + 1;
    out[n.name] = { x: 40 + d * 280, y: 40 + r * 170 };
  }
  return out;
}

/** toCanvas converts a definition into canvas nodes and edges (positions from saved or a layout). */
export function toCanvas(def: FlowDefinition, saved: Record<string, { x: number; y: number }> = {}): { nodes: CanvasNode[]; edges: CanvasEdge[] } {
  const pos = layout(def);
  const nodes: CanvasNode[] = def.nodes.map((n) => ({ id: n.name, type: 'flowNode', position: saved[n.name] ?? pos[n.name], data: { node: n } }));
  const edges: CanvasEdge[] = def.connections.map((c) => {
    if (c.type === 'Conditional') {
      const cond = c.configuration?.conditional?.condition ?? '';
      // A conditional connection carries no data: it targets the node, drawn at its first input.
      const target = def.nodes.find((n) => n.name === c.target);
      return { id: c.name, source: c.source, target: c.target, sourceHandle: `cond:${cond}`, targetHandle: `in:${target?.inputs?.[0]?.name ?? ''}`, label: cond, data: { conditional: true } };
    }
    return {
      id: c.name,
      source: c.source,
      target: c.target,
      sourceHandle: `out:${c.configuration?.data?.sourceOutput ?? ''}`,
      targetHandle: `in:${c.configuration?.data?.targetInput ?? ''}`,
    };
  });
  return { nodes, edges };
}

/** connectionName is the Bedrock-style name of a connection. */
export function connectionName(e: { source: string; target: string; sourceHandle: string; targetHandle: string }): string {
  const part = (h: string) => h.replace(/^(out|in|cond):/, '');
  return `${e.source}${part(e.sourceHandle)}To${e.target}${part(e.targetHandle)}`.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 100);
}

/** fromCanvas converts canvas nodes and edges back into a definition. */
export function fromCanvas(nodes: CanvasNode[], edges: CanvasEdge[]): FlowDefinition {
  const seen = new Set<string>();
  const connections: FlowConnection[] = [];
  for (const e of edges) {
    const conditional = e.sourceHandle.startsWith('cond:');
    const name = connectionName(e);
    if (seen.has(name)) continue;
    seen.add(name);
    connections.push(
      conditional
        ? { name, source: e.source, target: e.target, type: 'Conditional', configuration: { conditional: { condition: e.sourceHandle.slice(5) } } }
        : { name, source: e.source, target: e.target, type: 'Data', configuration: { data: { sourceOutput: e.sourceHandle.slice(4), targetInput: e.targetHandle.slice(3) } } },
    );
  }
  return { nodes: nodes.map((n) => n.data.node), connections };
}

/** Validation is one entry of ValidateFlowDefinition's or GetFlow's validations. */
export interface Validation {
  message: string;
  severity: string;
  type: string;
  details?: Record<string, Record<string, string>>;
}

/** validationsByNode groups validation messages by the nodes their details name; the rest go under "". */
export function validationsByNode(vs: Validation[], nodeNames: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of vs) {
    const names = new Set<string>();
    for (const d of Object.values(v.details ?? {})) {
      for (const k of ['node', 'source', 'target', 'loopNode', 'incompatibleNodeName']) {
        const n = d?.[k];
        if (typeof n === 'string' && nodeNames.includes(n)) names.add(n);
      }
    }
    const text = `${v.severity === 'Warning' ? 'Warning: ' : ''}${v.message}`;
    if (names.size === 0) (out[''] ??= []).push(text);
    for (const n of names) (out[n] ??= []).push(text);
  }
  return out;
}

/** renameNode renames a node and rewrites the edges that touch it; it refuses a taken or invalid name. */
export function renameNode(nodes: CanvasNode[], edges: CanvasEdge[], from: string, to: string): { nodes: CanvasNode[]; edges: CanvasEdge[] } | string {
  if (!/^[a-zA-Z]([_]?[0-9a-zA-Z]){0,49}$/.test(to)) return 'A node name starts with a letter and has letters, digits and single underscores (up to 50).';
  if (from !== to && nodes.some((n) => n.id === to)) return `There is already a node named ${to}.`;
  return {
    nodes: nodes.map((n) => (n.id === from ? { ...n, id: to, data: { ...n.data, node: { ...n.data.node, name: to } } } : n)),
    edges: edges.map((e) => {
      const source = e.source === from ? to : e.source;
      const target = e.target === from ? to : e.target;
      return { ...e, source, target, id: connectionName({ ...e, source, target }) };
    }),
  };
}
