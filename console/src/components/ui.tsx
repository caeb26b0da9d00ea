// Small shared widgets: error and empty states, a copyable code block, a
// modal-less drawer and tabs, each keyboard-usable and labelled.
import { useEffect, useId, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';

/** ErrorNote shows an error line (role=alert) when text is non-empty. */
export function ErrorNote({ text }: { text: string }) {
  if (!text) return null;
  return (
    <p role="alert" className="error">
      {text}
    </p>
  );
}

/** CodeBlock shows code with a copy button. */
export function CodeBlock({ code, label }: { code: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="codeblock">
      <button
        type="button"
        className="copy"
        aria-label={`Copy ${label}`}
        onClick={() => {
          void navigator.clipboard?.writeText(code).then(() => setCopied(true));
          setTimeout(() => setCopied(false), 1500);
        }}
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
      <pre aria-label={label}>
        <code>{code}</code>
      </pre>
    </div>
  );
}

/** Tabs is a WAI-ARIA tab list with arrow-key navigation. */
export function Tabs({
  tabs,
  label,
  value,
  onChange,
}: {
  tabs: { id: string; label: string }[];
  label: string;
  value: string;
  onChange: (id: string) => void;
}) {
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const i = tabs.findIndex((t) => t.id === value);
    let j: number;
    if (e.key === 'ArrowRight') j = (i + 1) % tabs.length;
    else if (e.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = tabs.length - 1;
    else return;
    e.preventDefault();
    onChange(tabs[j].id);
    const el = e.currentTarget.querySelectorAll<HTMLButtonElement>('[role=tab]')[j];
    el?.focus();
  };
  return (
    <div role="tablist" aria-label={label} className="tabs" onKeyDown={onKey}>
      {tabs.map((t) => (
        <button
          key={t.id}
          type="button"
          role="tab"
          aria-selected={t.id === value}
          tabIndex={t.id === value ? 0 : -1}
          onClick={() => onChange(t.id)}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

/** Drawer is a side panel (role=dialog) closed by its button or Escape; focus moves into it. */
export function Drawer({ title, onClose, children }: { title: string; onClose: () => void; children: ReactNode }) {
  const id = useId();
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    ref.current?.focus();
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('keydown', onKey);
      prev?.focus();
    };
  }, [onClose]);
  return (
    <div className="drawer" role="dialog" aria-labelledby={id} tabIndex={-1} ref={ref}>
      <div className="drawer-head">
        <h2 id={id}>{title}</h2>
        <button type="button" onClick={onClose} aria-label="Close">
          ✕
        </button>
      </div>
      <div className="drawer-body">{children}</div>
    </div>
  );
}

/** KV renders a definition list of label/value pairs. */
export function KV({ items }: { items: [string, ReactNode][] }) {
  return (
    <dl className="kv">
      {items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
