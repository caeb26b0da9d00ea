// Renders the tree of markdown.ts as React elements. Strings are only ever
// children (escaped by React); no dangerouslySetInnerHTML anywhere.
import { Fragment, type ReactNode } from 'react';
import { parse, type Block, type Inline } from './markdown';

function inline(nodes: Inline[]): ReactNode[] {
  return nodes.map((n, i) => {
    switch (n.t) {
      case 'text':
        return <Fragment key={i}>{n.v}</Fragment>;
      case 'code':
        return <code key={i}>{n.v}</code>;
      case 'strong':
        return <strong key={i}>{inline(n.c)}</strong>;
      case 'em':
        return <em key={i}>{inline(n.c)}</em>;
      case 'del':
        return <del key={i}>{inline(n.c)}</del>;
      case 'link':
        return (
          <a key={i} href={n.href} target="_blank" rel="noopener noreferrer nofollow">
            {inline(n.c)}
          </a>
        );
      case 'br':
        return <br key={i} />;
    }
  });
}

function block(b: Block, i: number): ReactNode {
  switch (b.t) {
    case 'p':
      return <p key={i}>{inline(b.c)}</p>;
    case 'h': {
      const H = `h${Math.min(6, b.level + 2)}` as 'h3';
      return <H key={i}>{inline(b.c)}</H>;
    }
    case 'code':
      return (
        <pre key={i} className="md-code" data-lang={b.lang || undefined}>
          <code>{b.text}</code>
        </pre>
      );
    case 'hr':
      return <hr key={i} />;
    case 'quote':
      return <blockquote key={i}>{b.c.map(block)}</blockquote>;
    case 'list': {
      const items = b.items.map((it, k) => (
        <li key={k}>{it.length === 1 && it[0].t === 'p' ? inline(it[0].c) : it.map(block)}</li>
      ));
      return b.ordered ? (
        <ol key={i} start={b.start === 1 ? undefined : b.start}>
          {items}
        </ol>
      ) : (
        <ul key={i}>{items}</ul>
      );
    }
    case 'table':
      return (
        <div key={i} className="table-wrap">
          <table>
            <thead>
              <tr>
                {b.head.map((c, k) => (
                  <th key={k} className={b.align[k] ? `align-${b.align[k]}` : undefined}>
                    {inline(c)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {b.rows.map((r, k) => (
                <tr key={k}>
                  {r.map((c, j) => (
                    <td key={j} className={b.align[j] ? `align-${b.align[j]}` : undefined}>
                      {inline(c)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      );
  }
}

/** Markdown renders src as sanitised Markdown. */
export function Markdown({ src }: { src: string }) {
  return <div className="md">{parse(src).map(block)}</div>;
}
