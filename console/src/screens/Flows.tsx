// Flows builder: a React Flow canvas with a node palette, connections typed
// by data type, inline validation from ValidateFlowDefinition, versions and
// aliases, and a test pane running InvokeFlow (multi-turn) with each node's
// trace. Loaded only when opened (its own chunk with React Flow).
import {
  Background,
  Controls,
  Handle,
  Position,
  ReactFlow,
  addEdge,
  useEdgesState,
  useNodesState,
  type Connection,
  type Edge,
  type Node,
  type NodeProps,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useCallback, useMemo, useState, type FormEvent } from 'react';
import { api, readableError } from '../api/client';
import { invokeFlow, traceNode, type FlowEvent } from '../api/flows';
import { Link } from '../components/Layout';
import { ErrorNote, Tabs } from '../components/ui';
import {
  PALETTE,
  conditionsOf,
  connectionError,
  connectionName,
  fromCanvas,
  newNode,
  renameNode,
  templateVars,
  toCanvas,
  validationsByNode,
  type CanvasEdge,
  type CanvasNode,
  type FlowDefinition,
  type FlowNode,
  type Validation,
} from '../lib/flow-def';
import * as fmt from '../lib/format';
import { navigate } from '../lib/router';
import { useAsync } from '../lib/useAsync';

const enc = encodeURIComponent;
/** ROLE is the execution role every flow names (Outcrop does not assume roles; Bedrock requires the field). */
const ROLE = 'arn:aws:iam::000000000000:role/outcrop-flows';

interface FlowSummary {
  id: string;
  name: string;
  status: string;
  version: string;
  description?: string;
  updatedAt: string;
}

interface FlowDetail {
  id: string;
  name: string;
  description?: string;
  status: string;
  executionRoleArn: string;
  definition?: FlowDefinition;
  validations?: Validation[];
  updatedAt: string;
}

type RFNode = Node<CanvasNode['data'], 'flowNode'>;

function FlowNodeView({ data, selected }: NodeProps<RFNode>) {
  const n = data.node;
  const conds = conditionsOf(n);
  const rows = Math.max((n.inputs?.length ?? 0) + (n.outputs?.length ?? 0) + conds.length, 1);
  return (
    <div className={`flow-node${selected ? ' selected' : ''}${data.errors?.length ? ' invalid' : ''}`} style={{ minHeight: 44 + rows * 22 }}>
      <div className="flow-node-head">
        <span className="flow-node-type">{n.type}</span>
        <strong>{n.name}</strong>
      </div>
      {(n.inputs ?? []).map((i, k) => (
        <div key={`i${i.name}`} className="flow-port in" style={{ top: 44 + k * 22 }}>
          <Handle type="target" position={Position.Left} id={`in:${i.name}`} aria-label={`${n.name} input ${i.name}`} />
          {i.name}: {i.type}
        </div>
      ))}
      {(n.outputs ?? []).map((o, k) => (
        <div key={`o${o.name}`} className="flow-port out" style={{ top: 44 + ((n.inputs?.length ?? 0) + k) * 22 }}>
          {o.name}: {o.type}
          <Handle type="source" position={Position.Right} id={`out:${o.name}`} aria-label={`${n.name} output ${o.name}`} />
        </div>
      ))}
      {conds.map((c, k) => {
        const row = (n.inputs?.length ?? 0) + (n.outputs?.length ?? 0) + k;
        return (
          <div key={`c${c}`} className="flow-port out cond" style={{ top: 44 + row * 22 }}>
            if {c}
            <Handle type="source" position={Position.Right} id={`cond:${c}`} aria-label={`${n.name} condition ${c}`} />
          </div>
        );
      })}
      {data.errors?.length ? (
        <div className="flow-node-errors" role="note">
          {data.errors.map((e) => (
            <div key={e}>{e}</div>
          ))}
        </div>
      ) : null}
    </div>
  );
}

const nodeTypes = { flowNode: FlowNodeView };

/** NodeProperties edits the selected node: name, type-specific settings, inputs, and a keyboard way to connect. */
function NodeProperties({
  node,
  nodes,
  edges,
  onChange,
  onRename,
  onConnect,
  onDelete,
  onDisconnect,
  modelIds,
}: {
  node: FlowNode;
  nodes: FlowNode[];
  edges: CanvasEdge[];
  onChange: (n: FlowNode) => void;
  onRename: (to: string) => string;
  onConnect: (c: Connection) => string;
  onDelete: () => void;
  onDisconnect: (edgeId: string) => void;
  modelIds: string[];
}) {
  const [name, setName] = useState(node.name);
  const [msg, setMsg] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const cfg = (node.configuration ?? {}) as Record<string, Record<string, unknown>>;
  const inline = (cfg.prompt?.sourceConfiguration as { inline?: Record<string, unknown> } | undefined)?.inline;
  const template = ((inline?.templateConfiguration as { text?: { text?: string } } | undefined)?.text?.text as string | undefined) ?? '';
  const setPrompt = (patch: Record<string, unknown>, text?: string) => {
    const t = text ?? template;
    const vars = templateVars(t);
    const next: FlowNode = {
      ...node,
      configuration: {
        prompt: {
          sourceConfiguration: {
            inline: { ...inline, ...patch, templateConfiguration: { text: { text: t, inputVariables: vars.map((v) => ({ name: v })) } } },
          },
        },
      },
      inputs: vars.map((v) => node.inputs?.find((i) => i.name === v) ?? { name: v, type: 'String', expression: '$.data' }),
    };
    onChange(next);
  };
  const outs: { value: string; label: string }[] = [
    ...(node.outputs ?? []).map((o) => ({ value: `out:${o.name}`, label: `${o.name} (${o.type})` })),
    ...conditionsOf(node).map((c) => ({ value: `cond:${c}`, label: `condition ${c}` })),
  ];
  const targets = nodes.filter((n) => n.name !== node.name).flatMap((n) => (n.inputs ?? []).map((i) => ({ value: `${n.name}|in:${i.name}`, label: `${n.name}.${i.name} (${i.type})` })));
  return (
    <div className="stack" aria-label={`Properties of ${node.name}`}>
      <h3>
        {node.type} node
      </h3>
      <form
        className="row end"
        onSubmit={(e) => {
          e.preventDefault();
          setMsg(onRename(name.trim()));
        }}
      >
        <label className="grow">
          Node name
          <input value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <button type="submit">Rename</button>
      </form>
      {node.type === 'Prompt' && (
        <>
          <label>
            Prompt model
            <select value={String(inline?.modelId ?? '')} onChange={(e) => setPrompt({ modelId: e.target.value })}>
              <option value="">(choose)</option>
              {modelIds.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </label>
          <label>
            Prompt template ({'{{variable}}'} makes an input)
            <textarea rows={4} value={template} onChange={(e) => setPrompt({}, e.target.value)} />
          </label>
        </>
      )}
      {node.type === 'Condition' && (
        <label>
          Conditions (one per line: name: expression; last is default)
          <textarea
            rows={4}
            value={((cfg.condition?.conditions as { name: string; expression?: string }[]) ?? []).map((c) => (c.expression ? `${c.name}: ${c.expression}` : c.name)).join('\n')}
            onChange={(e) => {
              const conditions = e.target.value
                .split('\n')
                .map((l) => l.trim())
                .filter(Boolean)
                .map((l) => {
                  const i = l.indexOf(':');
                  return i < 0 ? { name: l } : { name: l.slice(0, i).trim(), expression: l.slice(i + 1).trim() };
                });
              onChange({ ...node, configuration: { condition: { conditions } } });
            }}
          />
        </label>
      )}
      {node.type === 'KnowledgeBase' && (
        <div className="row">
          <label>
            Knowledge base ID
            <input value={String(cfg.knowledgeBase?.knowledgeBaseId ?? '')} onChange={(e) => onChange({ ...node, configuration: { knowledgeBase: { ...cfg.knowledgeBase, knowledgeBaseId: e.target.value } } })} />
          </label>
          <label>
            Generation model
            <select value={String(cfg.knowledgeBase?.modelId ?? '')} onChange={(e) => onChange({ ...node, configuration: { knowledgeBase: { ...cfg.knowledgeBase, modelId: e.target.value } } })}>
              <option value="">(retrieve only)</option>
              {modelIds.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </label>
        </div>
      )}
      {node.type === 'Agent' && (
        <label>
          Agent alias ARN
          <input value={String(cfg.agent?.agentAliasArn ?? '')} onChange={(e) => onChange({ ...node, configuration: { agent: { agentAliasArn: e.target.value } } })} />
        </label>
      )}
      {node.type === 'InlineCode' && (
        <label>
          Python code (the last expression is the output)
          <textarea
            rows={5}
            className="code-editor"
            value={String(cfg.inlineCode?.code ?? '')}
            onChange={(e) => onChange({ ...node, configuration: { inlineCode: { ...cfg.inlineCode, code: e.target.value } } })}
          />
        </label>
      )}
      {(node.inputs ?? []).length > 0 && (
        <fieldset>
          <legend>Inputs</legend>
          {(node.inputs ?? []).map((i, k) => (
            <div key={i.name} className="row">
              <label>
                {`${i.name} type`}
                <select
                  value={i.type}
                  onChange={(e) => onChange({ ...node, inputs: node.inputs!.map((x, j) => (j === k ? { ...x, type: e.target.value as typeof x.type } : x)) })}
                >
                  {['String', 'Number', 'Boolean', 'Object', 'Array'].map((t) => (
                    <option key={t}>{t}</option>
                  ))}
                </select>
              </label>
              <label className="grow">
                {`${i.name} expression`}
                <input value={i.expression} onChange={(e) => onChange({ ...node, inputs: node.inputs!.map((x, j) => (j === k ? { ...x, expression: e.target.value } : x)) })} />
              </label>
            </div>
          ))}
        </fieldset>
      )}
      {outs.length > 0 && targets.length > 0 && (
        <form
          className="stack"
          onSubmit={(e) => {
            e.preventDefault();
            const [target, th] = to.split('|');
            setMsg(onConnect({ source: node.name, sourceHandle: from || outs[0].value, target, targetHandle: th }) || 'Connected.');
          }}
        >
          <div className="row">
            <label>
              Connect output
              <select value={from || outs[0].value} onChange={(e) => setFrom(e.target.value)}>
                {outs.map((o) => (
                  <option key={o.value} value={o.value}>
                    {o.label}
                  </option>
                ))}
              </select>
            </label>
            <label>
              to input
              <select value={to} onChange={(e) => setTo(e.target.value)}>
                <option value="">(choose)</option>
                {targets.map((t) => (
                  <option key={t.value} value={t.value}>
                    {t.label}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <button type="submit" disabled={!to}>
            Connect
          </button>
        </form>
      )}
      {edges.some((e) => e.source === node.name || e.target === node.name) && (
        <ul className="plain-list" aria-label="Connections">
          {edges
            .filter((e) => e.source === node.name || e.target === node.name)
            .map((e) => {
              const text = `${e.source}.${e.sourceHandle.replace(/^\w+:/, '')} → ${e.target}.${e.targetHandle.replace(/^\w+:/, '')}`;
              return (
                <li key={e.id} className="row">
                  <span className="grow">{text}</span>
                  <button type="button" aria-label={`Disconnect ${text}`} onClick={() => onDisconnect(e.id)}>
                    Disconnect
                  </button>
                </li>
              );
            })}
        </ul>
      )}
      {msg && <p role="status">{msg}</p>}
      <button type="button" className="danger" onClick={onDelete}>
        Delete node
      </button>
    </div>
  );
}

/** TestPane runs InvokeFlow on an alias, with multi-turn input and per-node traces. */
function TestPane({ flowId, aliases, def }: { flowId: string; aliases: { id: string; name: string }[]; def: FlowDefinition }) {
  const inputNode = def.nodes.find((n) => n.type === 'Input');
  const [alias, setAlias] = useState('TSTALIASID');
  const [text, setText] = useState('');
  const [events, setEvents] = useState<FlowEvent[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [execution, setExecution] = useState('');
  const pending = [...events].reverse().find((e) => e.kind === 'input-request' || e.kind === 'completion');
  const awaiting = pending?.kind === 'input-request' ? pending : null;

  const run = (e: FormEvent) => {
    e.preventDefault();
    if (!inputNode) {
      setError('The flow has no Input node.');
      return;
    }
    let document: unknown = text;
    const t = text.trim();
    if (t.startsWith('{') || t.startsWith('[')) {
      try {
        document = JSON.parse(t);
      } catch {
        document = text;
      }
    }
    const resumeNode = awaiting ? def.nodes.find((n) => n.name === awaiting.nodeName) : undefined;
    setBusy(true);
    setError('');
    if (!awaiting) setEvents([]);
    const req = awaiting
      ? { flowId, aliasId: alias, nodeName: awaiting.nodeName, nodeInputName: resumeNode?.inputs?.[0]?.name ?? 'agentInputText', document, executionId: execution }
      : { flowId, aliasId: alias, nodeName: inputNode.name, nodeOutputName: 'document', document };
    (async () => {
      try {
        for await (const ev of invokeFlow(api, req, setExecution)) setEvents((all) => [...all, ev]);
      } catch (err) {
        setError(readableError(err));
      } finally {
        setBusy(false);
        setText('');
      }
    })();
  };

  const traces = events.filter((e): e is Extract<FlowEvent, { kind: 'trace' }> => e.kind === 'trace');
  const byNode = new Map<string, { kind: string; trace: unknown }[]>();
  for (const t of traces) {
    const { node, kind } = traceNode(t.trace);
    byNode.set(node, [...(byNode.get(node) ?? []), { kind, trace: t.trace[kind] }]);
  }
  return (
    <div className="stack">
      <form className="stack" onSubmit={run} aria-label="Test flow">
        <label>
          Alias
          <select value={alias} onChange={(e) => setAlias(e.target.value)}>
            <option value="TSTALIASID">TSTALIASID (working draft, prepared)</option>
            {aliases.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name} ({a.id})
              </option>
            ))}
          </select>
        </label>
        {awaiting && (
          <p className="warn" role="status">
            {awaiting.nodeName} asks: {typeof awaiting.document === 'string' ? awaiting.document : JSON.stringify(awaiting.document)}
          </p>
        )}
        <label>
          {awaiting ? 'Your answer' : 'Flow input (text or JSON)'}
          <textarea rows={3} value={text} onChange={(e) => setText(e.target.value)} />
        </label>
        <button type="submit" className="primary" disabled={busy}>
          {awaiting ? 'Send answer' : 'Run flow'}
        </button>
      </form>
      <ErrorNote text={error} />
      {execution && <p className="muted">Execution {execution}</p>}
      <div aria-live="polite" data-testid="flow-result">
        {events
          .filter((e) => e.kind === 'output' || e.kind === 'completion' || e.kind === 'error')
          .map((e, i) => (
            <div key={i} className="flow-event">
              {e.kind === 'output' && (
                <>
                  <strong>{e.nodeName}</strong>
                  <pre className="excerpt">{typeof e.document === 'string' ? e.document : JSON.stringify(e.document, null, 2)}</pre>
                </>
              )}
              {e.kind === 'completion' && <p className={e.reason === 'SUCCESS' ? 'ok' : 'warn'}>Completed: {e.reason}</p>}
              {e.kind === 'error' && <p className="error">{`${e.type}: ${e.message}`}</p>}
            </div>
          ))}
      </div>
      {byNode.size > 0 && (
        <div>
          <h4>Trace by node</h4>
          {[...byNode.entries()].map(([node, ts]) => (
            <details key={node}>
              <summary>
                {node || '(flow)'} <span className="muted">{ts.map((t) => t.kind.replace(/Trace$/, '')).join(', ')}</span>
              </summary>
              <pre>{JSON.stringify(ts, null, 2)}</pre>
            </details>
          ))}
        </div>
      )}
    </div>
  );
}

function VersionsPane({ flowId, onAliases }: { flowId: string; onAliases: () => void }) {
  const [tick, setTick] = useState(0);
  const versions = useAsync((s) => api.json<{ flowVersionSummaries?: { version: string; status: string; createdAt: string }[] }>(`/flows/${enc(flowId)}/versions`, { signal: s }), `${flowId}|${tick}`);
  const aliases = useAsync(
    (s) => api.json<{ flowAliasSummaries?: { id: string; name: string; routingConfiguration: { flowVersion: string }[]; updatedAt: string }[] }>(`/flows/${enc(flowId)}/aliases`, { signal: s }),
    `${flowId}|${tick}`,
  );
  const [aliasName, setAliasName] = useState('');
  const [aliasVersion, setAliasVersion] = useState('');
  const [error, setError] = useState('');
  const act = (p: Promise<unknown>) =>
    p
      .then(() => {
        setTick((t) => t + 1);
        onAliases();
      })
      .catch((e: unknown) => setError(readableError(e)));
  const vs = (versions.data?.flowVersionSummaries ?? []).filter((v) => v.version !== 'DRAFT');
  return (
    <div className="stack">
      <ErrorNote text={versions.error || aliases.error || error} />
      <button type="button" onClick={() => act(api.json(`/flows/${enc(flowId)}/versions`, { method: 'POST', body: {} }))}>
        Create version from the prepared draft
      </button>
      <table>
        <thead>
          <tr>
            <th>Version</th>
            <th>Status</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {vs.map((v) => (
            <tr key={v.version}>
              <td>{v.version}</td>
              <td>{v.status}</td>
              <td>{fmt.dateTime(v.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h4>Aliases</h4>
      <table>
        <thead>
          <tr>
            <th>Alias</th>
            <th>ID</th>
            <th>Version</th>
          </tr>
        </thead>
        <tbody>
          {(aliases.data?.flowAliasSummaries ?? []).map((a) => (
            <tr key={a.id}>
              <td>{a.name}</td>
              <td>
                <code>{a.id}</code>
              </td>
              <td>{a.routingConfiguration?.map((r) => r.flowVersion).join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        className="row end"
        onSubmit={(e) => {
          e.preventDefault();
          act(api.json(`/flows/${enc(flowId)}/aliases`, { method: 'POST', body: { name: aliasName.trim(), routingConfiguration: [{ flowVersion: aliasVersion || vs[vs.length - 1]?.version }] } }));
        }}
      >
        <label>
          Alias name
          <input value={aliasName} onChange={(e) => setAliasName(e.target.value)} />
        </label>
        <label>
          Alias version
          <select value={aliasVersion} onChange={(e) => setAliasVersion(e.target.value)}>
            {vs.map((v) => (
              <option key={v.version}>{v.version}</option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={!aliasName.trim() || vs.length === 0}>
          Create alias
        </button>
      </form>
    </div>
  );
}

function Editor({ flow, modelIds, reload }: { flow: FlowDetail; modelIds: string[]; reload: () => void }) {
  const initial = useMemo(() => toCanvas(flow.definition ?? { nodes: [], connections: [] }), [flow]);
  const [nodes, setNodes, onNodesChange] = useNodesState<RFNode>(initial.nodes as RFNode[]);
  const [edges, setEdges, onEdgesChange] = useEdgesState<Edge>(initial.edges as Edge[]);
  const [selected, setSelected] = useState<string>('');
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const [general, setGeneral] = useState<string[]>([]);
  const [tab, setTab] = useState('test');
  const [aliasTick, setAliasTick] = useState(0);
  const aliases = useAsync((s) => api.json<{ flowAliasSummaries?: { id: string; name: string }[] }>(`/flows/${enc(flow.id)}/aliases`, { signal: s }), `${flow.id}|${aliasTick}`);

  const cnodes = nodes as unknown as CanvasNode[];
  const cedges = edges as unknown as CanvasEdge[];
  const def = fromCanvas(cnodes, cedges);
  const byName = (n: string) => cnodes.find((x) => x.id === n)?.data.node;

  const tryConnect = useCallback(
    (c: Connection): string => {
      const err = connectionError(
        (nodes as unknown as CanvasNode[]).find((x) => x.id === c.source)?.data.node,
        c.sourceHandle ?? '',
        (nodes as unknown as CanvasNode[]).find((x) => x.id === c.target)?.data.node,
        c.targetHandle ?? '',
      );
      if (err) return err;
      const e = { source: c.source, target: c.target, sourceHandle: c.sourceHandle ?? '', targetHandle: c.targetHandle ?? '' };
      const cond = e.sourceHandle.startsWith('cond:');
      setEdges((all) => addEdge({ ...e, id: connectionName(e), label: cond ? e.sourceHandle.slice(5) : undefined, data: { conditional: cond } }, all));
      return '';
    },
    [nodes, setEdges],
  );

  const markErrors = (vs: Validation[]) => {
    const m = validationsByNode(vs, cnodes.map((n) => n.id));
    setGeneral(m[''] ?? []);
    setNodes((all) => all.map((n) => ({ ...n, data: { ...n.data, errors: m[n.id] } })));
    return vs.length;
  };

  const validate = () =>
    api
      .json<{ validations: Validation[] }>('/flows/validate-definition', { method: 'POST', body: { definition: def } })
      .then((r) => {
        const n = markErrors(r.validations ?? []);
        setMsg({ ok: n === 0, text: n === 0 ? 'The definition is valid.' : `${n} problem${n === 1 ? '' : 's'} found.` });
        return n;
      })
      .catch((e: unknown) => {
        setMsg({ ok: false, text: readableError(e) });
        return -1;
      });

  const save = () =>
    api
      .json<FlowDetail>(`/flows/${enc(flow.id)}/`, {
        method: 'PUT',
        body: { name: flow.name, description: flow.description || undefined, executionRoleArn: flow.executionRoleArn || ROLE, definition: def },
      })
      .then((r) => {
        markErrors(r.validations ?? []);
        setMsg({ ok: true, text: `Saved (${r.status}).` });
        return true;
      })
      .catch((e: unknown) => {
        setMsg({ ok: false, text: readableError(e) });
        return false;
      });

  const prepare = async () => {
    if (!(await save())) return;
    api
      .json<{ status: string }>(`/flows/${enc(flow.id)}/`, { method: 'POST', body: {} })
      .then((r) => setMsg({ ok: true, text: `Prepared (${r.status}). Test it on TSTALIASID.` }))
      .catch((e: unknown) => setMsg({ ok: false, text: readableError(e) }));
  };

  const add = (type: string) => {
    const n = newNode(type, cnodes.map((x) => x.id), modelIds[0] ?? '');
    const y = 40 + (cnodes.length % 5) * 60;
    setNodes((all) => [...all, { id: n.name, type: 'flowNode', position: { x: 60 + cnodes.length * 30, y }, data: { node: n } } as RFNode]);
    setSelected(n.name);
  };

  const sel = selected ? byName(selected) : undefined;
  return (
    <div className="stack">
      <div className="row toolbar" role="toolbar" aria-label="Flow">
        <button type="button" onClick={() => void save()}>
          Save
        </button>
        <button type="button" onClick={() => void validate()}>
          Validate
        </button>
        <button type="button" className="primary" onClick={() => void prepare()}>
          Save and prepare
        </button>
        <button type="button" onClick={reload}>
          Revert
        </button>
        {msg && (
          <span role={msg.ok ? 'status' : 'alert'} className={msg.ok ? 'ok' : 'error'}>
            {msg.text}
          </span>
        )}
      </div>
      {general.length > 0 && (
        <ul className="error">
          {general.map((g) => (
            <li key={g}>{g}</li>
          ))}
        </ul>
      )}
      <div className="flow-grid">
        <div className="palette card" role="group" aria-label="Node palette">
          <h3>Add node</h3>
          {PALETTE.map((t) => (
            <button key={t} type="button" onClick={() => add(t)}>
              {t}
            </button>
          ))}
        </div>
        <div className="canvas card" aria-label="Flow canvas">
          <ReactFlow
            nodes={nodes}
            edges={edges}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={(c) => {
              const err = tryConnect(c);
              setMsg(err ? { ok: false, text: err } : null);
            }}
            isValidConnection={(c) =>
              !connectionError(byName(c.source ?? ''), c.sourceHandle ?? '', byName(c.target ?? ''), c.targetHandle ?? '')
            }
            onNodeClick={(_, n) => setSelected(n.id)}
            onPaneClick={() => setSelected('')}
            fitView
            deleteKeyCode={['Delete', 'Backspace']}
            proOptions={{ hideAttribution: true }}
          >
            <Background />
            <Controls />
          </ReactFlow>
        </div>
        <div className="card side stack">
          <label>
            Node
            <select value={sel ? sel.name : ''} onChange={(e) => setSelected(e.target.value)}>
              <option value="">(choose)</option>
              {cnodes.map((n) => (
                <option key={n.id}>{n.id}</option>
              ))}
            </select>
          </label>
          {sel ? (
            <NodeProperties
              key={sel.name}
              node={sel}
              nodes={def.nodes}
              edges={cedges}
              modelIds={modelIds}
              onChange={(n) => setNodes((all) => all.map((x) => (x.id === sel.name ? { ...x, data: { ...x.data, node: n } } : x)))}
              onRename={(to) => {
                const r = renameNode(cnodes, cedges, sel.name, to);
                if (typeof r === 'string') return r;
                setNodes(r.nodes as RFNode[]);
                setEdges(r.edges as Edge[]);
                setSelected(to);
                return 'Renamed.';
              }}
              onConnect={tryConnect}
              onDisconnect={(id) => setEdges((all) => all.filter((e) => e.id !== id))}
              onDelete={() => {
                setNodes((all) => all.filter((x) => x.id !== sel.name));
                setEdges((all) => all.filter((e) => e.source !== sel.name && e.target !== sel.name));
                setSelected('');
              }}
            />
          ) : (
            <p className="muted">Select a node on the canvas or in the list to edit and connect it.</p>
          )}
        </div>
      </div>
      <div className="card">
        <Tabs
          label="Flow tools"
          value={tab}
          onChange={setTab}
          tabs={[
            { id: 'test', label: 'Test' },
            { id: 'versions', label: 'Versions and aliases' },
            { id: 'json', label: 'Definition JSON' },
          ]}
        />
        <div role="tabpanel">
          {tab === 'test' && <TestPane flowId={flow.id} aliases={aliases.data?.flowAliasSummaries ?? []} def={def} />}
          {tab === 'versions' && <VersionsPane flowId={flow.id} onAliases={() => setAliasTick((t) => t + 1)} />}
          {tab === 'json' && <pre>{JSON.stringify(def, null, 2)}</pre>}
        </div>
      </div>
    </div>
  );
}

function FlowView({ id }: { id: string }) {
  const [tick, setTick] = useState(0);
  const f = useAsync((s) => api.json<FlowDetail>(`/flows/${enc(id)}/`, { signal: s }), `${id}|${tick}`);
  const models = useAsync((s) => api.json<{ modelSummaries?: { modelId: string }[] }>('/foundation-models', { signal: s }).then((r) => (r.modelSummaries ?? []).map((m) => m.modelId)));
  const [error, setError] = useState('');
  if (!f.data) return <ErrorNote text={f.error} />;
  return (
    <section className="stack">
      <div className="screen-head">
        <h2>{f.data.name}</h2>
        <code className="muted">{f.data.id}</code>
        <span className="badge">{f.data.status}</span>
        <button
          type="button"
          className="danger"
          onClick={() =>
            confirm(`Delete flow ${f.data!.name}?`) &&
            api
              .json(`/flows/${enc(id)}/`, { method: 'DELETE', query: { skipResourceInUseCheck: 'true' } })
              .then(() => navigate('flows'))
              .catch((e: unknown) => setError(readableError(e)))
          }
        >
          Delete flow
        </button>
      </div>
      <ErrorNote text={error} />
      <Editor key={`${f.data.id}|${tick}|${f.data.updatedAt}`} flow={f.data} modelIds={models.data ?? []} reload={() => setTick((t) => t + 1)} />
    </section>
  );
}

/** starterDefinition is a new flow: an Input node connected to an Output node. */
export function starterDefinition(): FlowDefinition {
  const input = newNode('Input', []);
  const output = newNode('Output', [input.name]);
  return {
    nodes: [input, output],
    connections: [
      {
        name: `${input.name}documentTo${output.name}document`,
        source: input.name,
        target: output.name,
        type: 'Data',
        configuration: { data: { sourceOutput: 'document', targetInput: 'document' } },
      },
    ],
  };
}

/** Flows is the flows screen; route flows/<id> opens the builder. */
export default function Flows({ route }: { route: string }) {
  const id = route.startsWith('flows/') ? decodeURIComponent(route.slice('flows/'.length)) : '';
  const list = useAsync((s) => api.json<{ flowSummaries?: FlowSummary[] }>('/flows/', { signal: s, query: { maxResults: 100 } }), id);
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  const create = (e: FormEvent) => {
    e.preventDefault();
    api
      .json<{ id: string }>('/flows/', { method: 'POST', body: { name: name.trim(), executionRoleArn: ROLE, definition: starterDefinition() } })
      .then((r) => navigate(`flows/${enc(r.id)}`))
      .catch((err: unknown) => setError(readableError(err)));
  };
  return (
    <section className="stack">
      <h1>Flows</h1>
      {id ? (
        <>
          <Link route="flows">← All flows</Link>
          <FlowView key={id} id={id} />
        </>
      ) : (
        <>
          <form className="row end card" onSubmit={create}>
            <label className="grow">
              New flow name
              <input value={name} onChange={(e) => setName(e.target.value)} />
            </label>
            <button type="submit" className="primary" disabled={!name.trim()}>
              Create flow
            </button>
          </form>
          <ErrorNote text={list.error || error} />
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>ID</th>
                <th>Status</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {(list.data?.flowSummaries ?? []).length === 0 && !list.loading && (
                <tr>
                  <td colSpan={4} className="muted">
                    No flows yet.
                  </td>
                </tr>
              )}
              {(list.data?.flowSummaries ?? []).map((f) => (
                <tr key={f.id}>
                  <td>
                    <Link route={`flows/${enc(f.id)}`}>{f.name}</Link>
                  </td>
                  <td>
                    <code>{f.id}</code>
                  </td>
                  <td>{f.status}</td>
                  <td>{fmt.dateTime(f.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
