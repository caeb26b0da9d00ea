// Decoder for Server-Sent Events as the OpenAI chat completions stream sends
// them: "data: {json}" lines separated by blank lines, ending with
// "data: [DONE]". Chunks may split anywhere, including inside a UTF-8
// sequence or between "\r" and "\n".

/** One dispatched SSE event. */
export interface SSEEvent {
  event: string;
  data: string;
  id?: string;
}

/** SSEDecoder turns byte chunks into events per the WHATWG EventSource parsing rules. */
export class SSEDecoder {
  private text = new TextDecoder('utf-8');
  private line = '';
  private pendingCR = false;
  private data: string[] = [];
  private event = '';
  private id: string | undefined;

  /** push feeds bytes (or already-decoded text) and returns the events they completed. */
  push(chunk: Uint8Array | string): SSEEvent[] {
    const s = typeof chunk === 'string' ? chunk : this.text.decode(chunk, { stream: true });
    const out: SSEEvent[] = [];
    for (let i = 0; i < s.length; i++) {
      const ch = s[i];
      if (this.pendingCR) {
        this.pendingCR = false;
        if (ch === '\n') continue;
      }
      if (ch === '\r' || ch === '\n') {
        if (ch === '\r') this.pendingCR = true;
        this.processLine(this.line, out);
        this.line = '';
      } else {
        this.line += ch;
      }
    }
    return out;
  }

  /** end flushes a final event that was not followed by a blank line. */
  end(): SSEEvent[] {
    const out: SSEEvent[] = [];
    const tail = this.text.decode();
    if (tail) this.line += tail;
    if (this.line !== '') this.processLine(this.line, out);
    this.line = '';
    this.processLine('', out);
    return out;
  }

  private processLine(line: string, out: SSEEvent[]) {
    if (line === '') {
      if (this.data.length > 0) {
        out.push({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
      }
      this.data = [];
      this.event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      default:
        break;
    }
  }
}
