import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { randomText, rng } from '../test/rand';
import { parse, parseInline, safeHref } from './markdown';
import { Markdown } from './markdown-view';

const html = (src: string) => renderToStaticMarkup(<Markdown src={src} />);

describe('Markdown rendering is safe', () => {
  it('escapes raw HTML from a model', () => {
    const out = html('Hi <script>alert(1)</script> <img src=x onerror="alert(2)"> **bold**');
    expect(out).not.toContain('<script');
    expect(out).not.toContain('<img');
    expect(out).toContain('&lt;script&gt;');
    expect(out).toContain('&lt;img src=x onerror=&quot;alert(2)&quot;&gt;');
    expect(out).toContain('<strong>bold</strong>');
  });

  it('drops javascript:, data: and obfuscated link targets', () => {
    for (const href of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'java\tscript:alert(1)', 'data:text/html,<b>x</b>', 'vbscript:x', ' javascript:x', '/relative', '//evil.example']) {
      const out = html(`[click](${href})`);
      expect(out, href).not.toContain('<a');
      expect(out, href).toContain('click');
    }
    expect(html('<javascript:alert(1)>')).not.toContain('<a');
  });

  it('keeps http(s) and mailto links with rel=noopener', () => {
    const out = html('[docs](https://example.org/a?b=1) and <mailto:a@b.c>');
    expect(out).toContain('<a href="https://example.org/a?b=1" target="_blank" rel="noopener noreferrer nofollow">docs</a>');
    expect(out).toContain('href="mailto:a@b.c"');
  });

  it('puts code fences in pre/code with their text escaped', () => {
    const out = html('```html\n<b onclick="x()">hi</b>\n```');
    expect(out).toBe('<div class="md"><pre class="md-code" data-lang="html"><code>&lt;b onclick=&quot;x()&quot;&gt;hi&lt;/b&gt;</code></pre></div>');
  });

  it('never emits a tag outside the allowed set (fuzz, 1000 inputs)', () => {
    const allowed = new Set(['div', 'p', 'h3', 'h4', 'h5', 'h6', 'pre', 'code', 'hr', 'blockquote', 'ul', 'ol', 'li', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'strong', 'em', 'del', 'a', 'br']);
    for (let seed = 1; seed <= 1000; seed++) {
      const r = rng(seed);
      const src = Array.from({ length: 1 + Math.floor(r() * 6) }, () =>
        ['# ', '- ', '1. ', '> ', '```\n', '| a | b |\n|---|---|\n', '[x](javascript:y)', '<img onerror=1>', ''][Math.floor(r() * 9)] + randomText(r, 30),
      ).join('\n');
      const out = html(src);
      for (const m of out.matchAll(/<([a-zA-Z][a-zA-Z0-9]*)([^>]*)>/g)) {
        expect(allowed.has(m[1]), `seed ${seed}: <${m[1]}> in ${JSON.stringify(src)}`).toBe(true);
        expect(m[2], `seed ${seed}`).not.toMatch(/\son\w+=/i);
        if (m[1] === 'a') expect(m[2], `seed ${seed}`).toMatch(/href="(https?|mailto):/i);
      }
    }
  });
});

describe('Markdown parsing', () => {
  it('parses blocks', () => {
    const b = parse('# Title\n\npara one\ncontinued\n\n- a\n- b\n\n3. x\n4. y\n\n> quote\n\n---\n\n| h1 | h2 |\n|:---|---:|\n| 1 | 2 |');
    expect(b.map((x) => x.t)).toEqual(['h', 'p', 'list', 'list', 'quote', 'hr', 'table']);
    expect(b[1]).toEqual({ t: 'p', c: [{ t: 'text', v: 'para one continued' }] });
    expect(b[3]).toMatchObject({ ordered: true, start: 3 });
    expect(b[6]).toMatchObject({ t: 'table', align: ['left', 'right'] });
  });

  it('parses inline markup', () => {
    expect(parseInline('a **b** *c* `d` ~~e~~ snake_case_name')).toEqual([
      { t: 'text', v: 'a ' },
      { t: 'strong', c: [{ t: 'text', v: 'b' }] },
      { t: 'text', v: ' ' },
      { t: 'em', c: [{ t: 'text', v: 'c' }] },
      { t: 'text', v: ' ' },
      { t: 'code', v: 'd' },
      { t: 'text', v: ' ' },
      { t: 'del', c: [{ t: 'text', v: 'e' }] },
      { t: 'text', v: ' snake_case_name' },
    ]);
    expect(parseInline('2 * 3 * 4')).toEqual([{ t: 'text', v: '2 * 3 * 4' }]);
    expect(parseInline('\\*not em\\*')).toEqual([{ t: 'text', v: '*not em*' }]);
  });

  it('does not make __ inside a word strong', () => {
    for (const src of ['call foo__bar__baz now', 'a__b__', 'x__y__ z']) {
      expect(parseInline(src), src).toEqual([{ t: 'text', v: src }]);
    }
    expect(parseInline('__bold__ and x**y**z')).toEqual([
      { t: 'strong', c: [{ t: 'text', v: 'bold' }] },
      { t: 'text', v: ' and x' },
      { t: 'strong', c: [{ t: 'text', v: 'y' }] },
      { t: 'text', v: 'z' },
    ]);
  });

  it('renders an unterminated code fence to the end (streaming answers)', () => {
    expect(parse('```py\nprint(1)')).toEqual([{ t: 'code', lang: 'py', text: 'print(1)' }]);
  });

  it('bounds nesting depth', () => {
    const deep = '>'.repeat(200) + ' x';
    expect(() => html(deep)).not.toThrow();
    const nested = '**'.repeat(100) + 'x' + '**'.repeat(100);
    expect(() => html(nested)).not.toThrow();
  });

  it('safeHref', () => {
    expect(safeHref('https://a.b')).toBe('https://a.b');
    expect(safeHref('HTTP://a.b')).toBe('HTTP://a.b');
    expect(safeHref('javascript:x')).toBeNull();
    expect(safeHref('a.b/c')).toBeNull();
  });
});
