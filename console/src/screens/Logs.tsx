// Logs: the request log with filters, cursor pagination and a detail drawer
// (masked prompt excerpt, per-attempt timings, routing and guardrail
// decisions). The drawer has its own URL: /console/logs/<id>.
import { useCallback, useState, type FormEvent } from 'react';
import { admin, type Call, type RequestEntry } from '../api/admin';
import { api, readableError } from '../api/client';
import { Drawer, ErrorNote, KV } from '../components/ui';
import { guardrailActions } from '../lib/chat-state';
import * as fmt from '../lib/format';
import { emptyFilter, filterQuery, statusClass, validateFilter, type LogFilter } from '../lib/logs';
import { navigate } from '../lib/router';
import { useAsync } from '../lib/useAsync';

const a = admin(api);

function Attempts({ call }: { call: Call }) {
  return (
    <table>
      <caption className="sr-only">Attempts</caption>
      <thead>
        <tr>
          <th>Deployment</th>
          <th className="num">Start</th>
          <th className="num">First event</th>
          <th className="num">Complete</th>
          <th>Result</th>
        </tr>
      </thead>
      <tbody>
        {call.attempts.map((t, i) => (
          <tr key={i}>
            <td>
              {t.deployment} {t.winner && <span className="badge ok">winner</span>}
            </td>
            <td className="num">{fmt.ms(t.startMs)}</td>
            <td className="num">{fmt.ms(t.firstEventMs)}</td>
            <td className="num">{fmt.ms(t.completeMs ?? null)}</td>
            <td className={t.error ? 'error' : undefined}>{t.error || 'ok'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Detail({ id, onClose }: { id: string; onClose: () => void }) {
  const d = useAsync((signal) => a.request(id, signal), id);
  const r = d.data?.request;
  const call = d.data?.call;
  const gr = call?.trace ? guardrailActions((call.trace as Record<string, unknown>).guardrail) : [];
  return (
    <Drawer title={`Request ${r?.requestId || id}`} onClose={onClose}>
      <ErrorNote text={d.error} />
      {d.loading && !r && <p aria-busy="true">Loading…</p>}
      {r && (
        <div className="stack">
          <KV
            items={[
              ['Time', fmt.dateTime(r.time)],
              ['Principal', r.principal || '–'],
              ['Auth', `${r.authMethod || '–'} ${r.keyId || ''}`],
              ['Source IP', r.sourceIp || '–'],
              ['Operation', [r.api, r.operation].filter(Boolean).join(' ') || '–'],
              ['Path', `${r.method} ${r.path}`],
              ['Action', `${r.action} on ${r.resource || '–'}`],
              ['Decision', r.decision || '–'],
              ['Model', r.model || '–'],
              ['Status', `${r.status}${r.errorCode ? ` ${r.errorCode}` : ''}`],
              ['Tokens', `${fmt.count(r.inputTokens)} in / ${fmt.count(r.outputTokens)} out`],
              ['Latency', fmt.ms(r.latencyMs)],
            ]}
          />
          <h3>Prompt (masked excerpt)</h3>
          {r.prompt ? <pre className="excerpt">{r.prompt}</pre> : <p className="muted">No prompt recorded.</p>}
          {r.response !== undefined && (
            <>
              <h3>Response (masked excerpt)</h3>
              <pre className="excerpt">{r.response}</pre>
            </>
          )}
          {call && (
            <>
              <h3>Routing and timings</h3>
              <KV
                items={[
                  ['Deployment', `${call.deployment} (${call.provider})`],
                  ['Profile', call.profile || 'standard'],
                  ['Streamed', call.stream ? 'yes' : 'no'],
                  ['TTFT', fmt.ms(call.ttftMs)],
                  ['Output rate', fmt.rate(call.otps)],
                  ['E2E', fmt.ms(call.e2eMs)],
                  ['Gateway overhead', `${fmt.count(call.overheadUs)} µs`],
                  ['Cache read / write', `${fmt.count(call.cacheReadTokens)} / ${fmt.count(call.cacheWriteTokens)}`],
                ]}
              />
              <Attempts call={call} />
              <h3>Guardrail decisions</h3>
              {gr.length === 0 ? (
                <p className="muted">No guardrail acted on this request.</p>
              ) : (
                <ul>
                  {gr.map((g, i) => (
                    <li key={i}>
                      {g.where}: {g.policy} {g.action} {g.detail && `(${g.detail})`}
                    </li>
                  ))}
                </ul>
              )}
              {call.trace && Object.keys(call.trace).length > 0 && (
                <details>
                  <summary>Raw trace</summary>
                  <pre>{JSON.stringify(call.trace, null, 2)}</pre>
                </details>
              )}
            </>
          )}
        </div>
      )}
    </Drawer>
  );
}

/** LogTable lists entries; principal limits it (the Access screen's audit view). */
export function LogTable({ principal, route = 'logs' }: { principal?: string; route?: string }) {
  const [draft, setDraft] = useState<LogFilter>({ ...emptyFilter, principal: principal ?? '' });
  const [filter, setFilter] = useState<LogFilter>(draft);
  const [pages, setPages] = useState<RequestEntry[][]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [error, setError] = useState('');
  const first = useAsync(
    (signal) =>
      a.requests(filterQuery(filter), signal).then((r) => {
        setPages([r.requests]);
        setNext(r.nextCursor);
        return r;
      }),
    JSON.stringify(filter),
  );
  const rows = pages.flat();

  const apply = (e: FormEvent) => {
    e.preventDefault();
    const err = validateFilter(draft);
    setError(err);
    if (!err) setFilter({ ...draft, principal: principal ?? draft.principal });
  };

  const more = useCallback(() => {
    if (!next) return;
    a.requests(filterQuery(filter, next))
      .then((r) => {
        setPages((p) => [...p, r.requests]);
        setNext(r.nextCursor);
      })
      .catch((e: unknown) => setError(readableError(e)));
  }, [filter, next]);

  const field = (k: keyof LogFilter, label: string, type = 'text', placeholder = '') => (
    <label>
      {label}
      <input type={type} value={draft[k]} placeholder={placeholder} onChange={(e) => setDraft({ ...draft, [k]: e.target.value })} />
    </label>
  );

  return (
    <div className="stack">
      <form className="row filters" onSubmit={apply} aria-label="Log filters">
        {field('model', 'Model')}
        {principal === undefined && field('principal', 'Principal')}
        {field('status', 'Status', 'text', '429 or 4xx')}
        {field('from', 'From (UTC)', 'datetime-local')}
        {field('to', 'To (UTC)', 'datetime-local')}
        <div className="row end">
          <button type="submit" className="primary">
            Apply
          </button>
          <button type="button" onClick={first.reload}>
            Refresh
          </button>
        </div>
      </form>
      <ErrorNote text={error || first.error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Time (UTC)</th>
              <th>Principal</th>
              <th>Operation</th>
              <th>Model</th>
              <th>Status</th>
              <th className="num">Latency</th>
              <th className="num">Tokens in/out</th>
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 && !first.loading && (
              <tr>
                <td colSpan={7} className="muted">
                  No requests match.
                </td>
              </tr>
            )}
            {rows.map((r) => (
              <tr
                key={r.id}
                className="clickable"
                tabIndex={0}
                aria-label={`Open request ${r.requestId || r.id}`}
                onClick={() => navigate(`${route}/${encodeURIComponent(r.id)}`)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' || e.key === ' ') {
                    e.preventDefault();
                    navigate(`${route}/${encodeURIComponent(r.id)}`);
                  }
                }}
              >
                <td className="nowrap">{fmt.dateTime(r.time)}</td>
                <td>{r.principal || '–'}</td>
                <td>{r.operation || `${r.method} ${r.path}`}</td>
                <td>{r.model || '–'}</td>
                <td>
                  <span className={`badge ${statusClass(r.status)}`}>{r.status}</span> {r.errorCode && <span className="muted">{r.errorCode}</span>}
                  {r.decision === 'deny' && <span className="badge error">denied</span>}
                </td>
                <td className="num">{fmt.ms(r.latencyMs)}</td>
                <td className="num">
                  {fmt.count(r.inputTokens)} / {fmt.count(r.outputTokens)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {next && (
        <button type="button" onClick={more}>
          Load more
        </button>
      )}
    </div>
  );
}

/** Logs is the request log screen; route "logs/<id>" opens an entry. */
export default function Logs({ route }: { route: string }) {
  const id = route.startsWith('logs/') ? decodeURIComponent(route.slice('logs/'.length)) : '';
  const close = useCallback(() => navigate('logs'), []);
  return (
    <section>
      <h1>Logs</h1>
      <LogTable />
      {id && <Detail id={id} onClose={close} />}
    </section>
  );
}
