import { describe, expect, it } from 'vitest';
import {
  connectionError,
  fromCanvas,
  layout,
  newNode,
  renameNode,
  templateVars,
  toCanvas,
  validationsByNode,
  type FlowDefinition,
} from './flow-def';

const def: FlowDefinition = {
  nodes: [newNode('Input', []), newNode('Prompt', [], 'smollm2'), newNode('Condition', []), newNode('Output', []), newNode('Output', ['FlowOutput'])],
  connections: [
    { name: 'a', source: 'FlowInput', target: 'Prompt', type: 'Data', configuration: { data: { sourceOutput: 'document', targetInput: 'question' } } },
    { name: 'b', source: 'Prompt', target: 'Condition', type: 'Data', configuration: { data: { sourceOutput: 'modelCompletion', targetInput: 'conditionInput' } } },
    { name: 'c', source: 'Condition', target: 'FlowOutput', type: 'Conditional', configuration: { conditional: { condition: 'isYes' } } },
    { name: 'd', source: 'Condition', target: 'FlowOutput_2', type: 'Conditional', configuration: { conditional: { condition: 'default' } } },
    { name: 'e', source: 'Prompt', target: 'FlowOutput', type: 'Data', configuration: { data: { sourceOutput: 'modelCompletion', targetInput: 'document' } } },
  ],
};

describe('flow definition <-> canvas', () => {
  it('names new nodes uniquely', () => {
    expect(def.nodes.map((n) => n.name)).toEqual(['FlowInput', 'Prompt', 'Condition', 'FlowOutput', 'FlowOutput_2']);
    expect(newNode('Prompt', ['Prompt', 'Prompt_2']).name).toBe('Prompt_3');
    expect((newNode('Prompt', [], 'm').configuration as { prompt: { sourceConfiguration: { inline: { modelId: string } } } }).prompt.sourceConfiguration.inline.modelId).toBe('m');
  });

  it('round-trips data and conditional connections', () => {
    const { nodes, edges } = toCanvas(def);
    expect(edges.find((e) => e.id === 'c')).toMatchObject({ sourceHandle: 'cond:isYes', targetHandle: 'in:document', label: 'isYes' });
    const back = fromCanvas(nodes, edges);
    expect(back.nodes).toEqual(def.nodes);
    expect(back.connections.map((c) => [c.source, c.target, c.type, c.configuration])).toEqual(def.connections.map((c) => [c.source, c.target, c.type, c.configuration]));
    expect(back.connections[0].name).toBe('FlowInputdocumentToPromptquestion');
  });

  it('lays nodes out in columns by depth, also with a cycle', () => {
    const p = layout(def);
    expect(p.FlowInput.x).toBeLessThan(p.Prompt.x);
    expect(p.Prompt.x).toBeLessThan(p.Condition.x);
    expect(p.Condition.x).toBeLessThan(p.FlowOutput.x);
    const cyc: FlowDefinition = {
      nodes: [newNode('InlineCode', []), newNode('InlineCode', ['InlineCode'])],
      connections: [
        { name: 'x', source: 'InlineCode', target: 'InlineCode_2', type: 'Data' },
        { name: 'y', source: 'InlineCode_2', target: 'InlineCode', type: 'Data' },
      ],
    };
    expect(Object.keys(layout(cyc))).toHaveLength(2);
  });
});

describe('typed connections', () => {
  const [input, prompt, cond] = def.nodes;
  const iter = newNode('Iterator', []);
  it('allows matching types and conditions', () => {
    expect(connectionError(input, 'out:document', prompt, 'in:question')).toBe('');
    expect(connectionError(cond, 'cond:isYes', prompt, 'in:question')).toBe('');
  });
  it('refuses mismatched types, self loops, unknown handles', () => {
    expect(connectionError(input, 'out:document', iter, 'in:array')).toBe('FlowInput.document is String but Iterator.array takes Array.');
    expect(connectionError(prompt, 'out:modelCompletion', prompt, 'in:question')).toMatch(/itself/);
    expect(connectionError(cond, 'cond:nope', prompt, 'in:question')).toMatch(/Unknown condition/);
    expect(connectionError(input, 'out:nope', prompt, 'in:question')).toMatch(/Unknown output/);
    expect(connectionError(input, 'out:document', prompt, 'out:modelCompletion')).toMatch(/input/);
    expect(connectionError(undefined, 'out:document', prompt, 'in:question')).toMatch(/Unknown node/);
  });
});

describe('helpers', () => {
  it('finds template variables', () => {
    expect(templateVars('Hi {{name}}, {{ topic }} and {{name}} {{bad-var}}')).toEqual(['name', 'topic']);
  });

  it('maps validations to nodes', () => {
    const v = validationsByNode(
      [
        { message: 'Prompt lacks input', severity: 'Error', type: 'MissingNodeInput', details: { missingNodeInput: { node: 'Prompt', input: 'q' } } },
        { message: 'bad connection', severity: 'Error', type: 'MismatchedNodeInputType', details: { x: { source: 'FlowInput', target: 'Prompt' } } },
        { message: 'no output', severity: 'Warning', type: 'MissingEndingNodes', details: {} },
      ],
      ['FlowInput', 'Prompt'],
    );
    expect(v).toEqual({ Prompt: ['Prompt lacks input', 'bad connection'], FlowInput: ['bad connection'], '': ['Warning: no output'] });
  });

  it('renames a node with its edges and refuses bad names', () => {
    const { nodes, edges } = toCanvas(def);
    const r = renameNode(nodes, edges, 'Prompt', 'Ask');
    if (typeof r === 'string') throw new Error(r);
    expect(r.nodes.map((n) => n.id)).toContain('Ask');
    expect(r.nodes.find((n) => n.id === 'Ask')!.data.node.name).toBe('Ask');
    expect(r.edges.filter((e) => e.source === 'Ask' || e.target === 'Ask')).toHaveLength(3);
    expect(renameNode(nodes, edges, 'Prompt', 'FlowInput')).toMatch(/already/);
    expect(renameNode(nodes, edges, 'Prompt', '9x')).toMatch(/starts with a letter/);
    expect(renameNode(nodes, edges, 'Prompt', 'a__b')).toMatch(/single underscores/);
  });
});
