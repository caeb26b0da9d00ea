// A small Markdown parser for model output and document text. It produces a
// tree that markdown-view.tsx renders as React elements: text is always a
// text node (React escapes it), there is no raw-HTML passthrough, and links
// keep only http(s) and mailto targets. Anything not understood stays text.

/** Inline node. */
export type Inline =
  | { t: 'text'; v: string }
  | { t: 'code'; v: string }
  | { t: 'strong'; c: Inline[] }
  | { t: 'em'; c: Inline[] }
  | { t: 'del'; c: Inline[] }
  | { t: 'link'; href: string; c: Inline[] }
  | { t: 'br' };

/** Block node. */
export type Block =
  | { t: 'p'; c: Inline[] }
  | { t: 'h'; level: number; c: Inline[] }
  | { t: 'code'; lang: string; text: string }
  | { t: 'hr' }
  | { t: 'quote'; c: Block[] }
  | { t: 'list'; ordered: boolean; start: number; items: Block[][] }
  | { t: 'table'; head: Inline[][]; rows: Inline[][][]; align: ('left' | 'center' | 'right' | null)[] };

const MAX_DEPTH = 8;

/** safeHref returns url when it is http(s) or mailto, else null. */
export function safeHref(url: string): string | null {
  const u = url.trim();
  // Control characters and whitespace inside the scheme are how "java\tscript:" tricks work.
  if (/[\u0000-\u001f\u007f]/.test(u)) return null;
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(u);
  if (!m) return null;
  const scheme = m[1].toLowerCase();
  return scheme === 'http' || scheme === 'https' || scheme === 'mailto' ? u : null;
}

function pushText(out: Inline[], v: string) {
  if (!v) return;
  const last = out[out.length - 1];
  if (last && last.t === 'text') last.v += v;
  else out.push({ t: 'text', v });
}

function findClose(s: string, from: number, delim: string): number {
  let i = from;
  while (i < s.length) {
    const j = s.indexOf(delim, i);
    if (j < 0) return -1;
    if (s[j - 1] !== '\\' && j > from) return j;
    i = j + 1;
  }
  return -1;
}

/** parseInline parses one paragraph's text into inline nodes. */
export function parseInline(s: string, depth = 0): Inline[] {
  const out: Inline[] = [];
  if (depth > MAX_DEPTH) {
    pushText(out, s);
    return out;
  }
  let i = 0;
  let text = '';
  const flush = () => {
    pushText(out, text);
    text = '';
  };
  while (i < s.length) {
    const ch = s[i];
    if (ch === '\\' && i + 1 < s.length && /[\\`*_{}[\]()#+\-.!~|<>]/.test(s[i + 1])) {
      text += s[i + 1];
      i += 2;
      continue;
    }
    if (ch === '\n') {
      // Two trailing spaces or a backslash before the newline make a hard break.
      if (text.endsWith('  ')) {
        text = text.replace(/ +$/, '');
        flush();
        out.push({ t: 'br' });
      } else {
        text += ' ';
      }
      i++;
      continue;
    }
    if (ch === '`') {
      let n = 0;
      while (s[i + n] === '`') n++;
      const fence = '`'.repeat(n);
      const end = s.indexOf(fence, i + n);
      if (end > 0) {
        flush();
        out.push({ t: 'code', v: s.slice(i + n, end).replace(/^ (.*) $/, '$1') });
        i = end + n;
        continue;
      }
      text += fence;
      i += n;
      continue;
    }
    if ((ch === '*' || ch === '_') && s[i + 1] === ch) {
      const delim = ch + ch;
      // "__" inside a word (foo__bar__baz) is not
      // strong emphasis, as in CommonMark; "**" may be.
      const wordBefore = ch === '_' && i > 0 && /\w/.test(s[i - 1]);
      const end = wordBefore ? -1 : findClose(s, i + 2, delim);
      if (end > i + 2 && s[i + 2] !== ' ' && !(ch === '_' && /\w/.test(s[end + 2] ?? ''))) {
        flush();
        out.push({ t: 'strong', c: parseInline(s.slice(i + 2, end), depth + 1) });
        i = end + 2;
        continue;
      }
    }
    if (ch === '~' && s[i + 1] === '~') {
      const end = findClose(s, i + 2, '~~');
      if (end > i + 2) {
        flush();
        out.push({ t: 'del', c: parseInline(s.slice(i + 2, end), depth + 1) });
        i = end + 2;
        continue;
      }
    }
    if ((ch === '*' || ch === '_') && s[i + 1] !== ch && s[i + 1] !== ' ' && i + 1 < s.length) {
      // "_" inside a word (snake_case) is not emphasis.
      const wordBefore = ch === '_' && i > 0 && /\w/.test(s[i - 1]);
      const end = wordBefore ? -1 : findClose(s, i + 1, ch);
      if (end > i + 1 && s[end - 1] !== ' ' && !(ch === '_' && /\w/.test(s[end + 1] ?? ''))) {
        flush();
        out.push({ t: 'em', c: parseInline(s.slice(i + 1, end), depth + 1) });
        i = end + 1;
        continue;
      }
    }
    if (ch === '[') {
      const close = findClose(s, i + 1, ']');
      if (close > i && s[close + 1] === '(') {
        const paren = s.indexOf(')', close + 2);
        if (paren > 0) {
          const target = s.slice(close + 2, paren).trim().split(/\s+/)[0] ?? '';
          const label = parseInline(s.slice(i + 1, close), depth + 1);
          flush();
          const href = safeHref(target);
          if (href) out.push({ t: 'link', href, c: label });
          else for (const n of label) out.push(n);
          i = paren + 1;
          continue;
        }
      }
    }
    if (ch === '<') {
      const end = s.indexOf('>', i + 1);
      if (end > 0) {
        const inner = s.slice(i + 1, end);
        const href = /^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>]*$/.test(inner) ? safeHref(inner) : null;
        if (href) {
          flush();
          out.push({ t: 'link', href, c: [{ t: 'text', v: inner }] });
          i = end + 1;
          continue;
        }
      }
    }
    text += ch;
    i++;
  }
  flush();
  return out;
}

const fenceRe = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/;
const headingRe = /^ {0,3}(#{1,6})(?:\s+(.*?))?\s*#*\s*$/;
const hrRe = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const ulRe = /^( {0,3})([-*+])\s+(.*)$/;
const olRe = /^( {0,3})(\d{1,9})[.)]\s+(.*)$/;
const quoteRe = /^ {0,3}> ?(.*)$/;

function splitRow(line: string): string[] {
  let l = line.trim();
  if (l.startsWith('|')) l = l.slice(1);
  if (l.endsWith('|') && !l.endsWith('\\|')) l = l.slice(0, -1);
  const cells: string[] = [];
  let cur = '';
  for (let i = 0; i < l.length; i++) {
    if (l[i] === '\\' && l[i + 1] === '|') {
      cur += '|';
      i++;
    } else if (l[i] === '|') {
      cells.push(cur.trim());
      cur = '';
    } else cur += l[i];
  }
  cells.push(cur.trim());
  return cells;
}

function isTableSep(line: string): boolean {
  return /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/.test(line) && line.includes('-');
}

function startsBlock(line: string): boolean {
  return fenceRe.test(line) || headingRe.test(line) || hrRe.test(line) || quoteRe.test(line) || ulRe.test(line) || olRe.test(line);
}

/** parse parses a Markdown document into blocks. */
export function parse(src: string, depth = 0): Block[] {
  const lines = src.replace(/\r\n?/g, '\n').split('\n');
  const out: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') {
      i++;
      continue;
    }
    const fence = fenceRe.exec(line);
    if (fence) {
      const marker = fence[1];
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trimStart().startsWith(marker)) body.push(lines[i++]);
      i++; // closing fence (or end of input)
      out.push({ t: 'code', lang: fence[2] ?? '', text: body.join('\n') });
      continue;
    }
    const h = headingRe.exec(line);
    if (h) {
      out.push({ t: 'h', level: h[1].length, c: parseInline(h[2] ?? '', depth) });
      i++;
      continue;
    }
    if (hrRe.test(line)) {
      out.push({ t: 'hr' });
      i++;
      continue;
    }
    if (quoteRe.test(line) && depth < MAX_DEPTH) {
      const body: string[] = [];
      while (i < lines.length && lines[i].trim() !== '') {
        const q = quoteRe.exec(lines[i]);
        body.push(q ? q[1] : lines[i]);
        i++;
      }
      out.push({ t: 'quote', c: parse(body.join('\n'), depth + 1) });
      continue;
    }
    const ul = ulRe.exec(line);
    const ol = olRe.exec(line);
    if ((ul || ol) && depth < MAX_DEPTH) {
      const ordered = !ul;
      const re = ordered ? olRe : ulRe;
      const start = ol ? parseInt(ol[2], 10) : 1;
      const items: string[][] = [];
      while (i < lines.length) {
        const m = re.exec(lines[i]);
        if (m) {
          items.push([m[3]]);
          i++;
          continue;
        }
        const l = lines[i];
        if (l.trim() === '') {
          // A blank line ends the list unless the next line continues it.
          const next = lines[i + 1] ?? '';
          if (re.test(next) || /^\s{2,}\S/.test(next)) {
            items[items.length - 1].push('');
            i++;
            continue;
          }
          break;
        }
        if (/^\s{2,}/.test(l) || !startsBlock(l)) {
          items[items.length - 1].push(l.replace(/^\s{2,4}/, ''));
          i++;
          continue;
        }
        break;
      }
      out.push({ t: 'list', ordered, start, items: items.map((it) => parse(it.join('\n'), depth + 1)) });
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && isTableSep(lines[i + 1])) {
      const head = splitRow(line);
      const align = splitRow(lines[i + 1]).map((c) => {
        const l = c.startsWith(':');
        const r = c.endsWith(':');
        return l && r ? 'center' : r ? 'right' : l ? 'left' : null;
      });
      i += 2;
      const rows: Inline[][][] = [];
      while (i < lines.length && lines[i].includes('|') && lines[i].trim() !== '') {
        const cells = splitRow(lines[i]);
        rows.push(head.map((_, k) => parseInline(cells[k] ?? '', depth)));
        i++;
      }
      out.push({ t: 'table', head: head.map((c) => parseInline(c, depth)), rows, align: head.map((_, k) => align[k] ?? null) });
      continue;
    }
    const para: string[] = [];
    while (i < lines.length && lines[i].trim() !== '' && (para.length === 0 || !startsBlock(lines[i]))) {
      para.push(lines[i]);
      i++;
    }
    out.push({ t: 'p', c: parseInline(para.join('\n').trim(), depth) });
  }
  return out;
}
