// Local checks of a policy document before the server's validation: JSON
// syntax with a line and column, and a starter document.

/** POLICY_TEMPLATE is the document a new policy starts from. */
export const POLICY_TEMPLATE = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
      "Resource": "*"
    }
  ]
}`;

/** lineCol converts a string offset into 1-based line and column. */
export function lineCol(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, col: lines[lines.length - 1].length + 1 };
}

/**
 * jsonErrorOffset returns the offset of the first JSON syntax error in text,
 * or -1 when text is one valid JSON value. (Engines differ in whether their
 * JSON.parse messages carry a position, so the editor finds it itself.)
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const fail = () => {
    throw i;
  };
  const lit = (w: string) => {
    if (text.startsWith(w, i)) i += w.length;
    else fail();
  };
  const str = () => {
    i++; // opening quote
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c < ' ') fail();
      if (c === '\\') {
        i++;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 5;
        } else if (i < text.length && '"\\/bfnrt'.includes(text[i])) i++;
        else fail();
      } else i++;
    }
    fail();
  };
  const num = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) fail();
    i += m![0].length;
  };
  const value = (depth: number): void => {
    if (depth > 512) fail();
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        str();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail();
      }
    } else if (c === '"') str();
    else if (c === 't') lit('true');
    else if (c === 'f') lit('false');
    else if (c === 'n') lit('null');
    else num();
  };
  try {
    value(0);
    ws();
    return i === text.length ? -1 : i;
  } catch (at) {
    return typeof at === 'number' ? Math.min(at, text.length) : 0;
  }
}

/** jsonError returns "" for a valid JSON object, else a message with the line and column. */
export function jsonError(text: string): string {
  if (!text.trim()) return 'The document is empty.';
  const at = jsonErrorOffset(text);
  if (at >= 0) {
    const { line, col } = lineCol(text, at);
    return at >= text.length
      ? `JSON syntax error: the document ends early (line ${line}, column ${col}).`
      : `JSON syntax error at line ${line}, column ${col}.`;
  }
  const v: unknown = JSON.parse(text);
  if (!v || typeof v !== 'object' || Array.isArray(v)) return 'A policy document is a JSON object.';
  return '';
}

/** prettyDocument formats a stored document (object or JSON string) for editing. */
export function prettyDocument(doc: unknown): string {
  if (typeof doc === 'string') {
    try {
      return JSON.stringify(JSON.parse(doc), null, 2);
    } catch {
      return doc;
    }
  }
  return JSON.stringify(doc, null, 2);
}

/** validName is the server's rule for principal and policy names (letters, digits, +=,.@_-; 1–64). */
export function validName(s: string): boolean {
  return /^[A-Za-z0-9+=,.@_-]{1,64}$/.test(s);
}
