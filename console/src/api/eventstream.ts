// Decoder for the AWS event-stream framing (application/vnd.amazon.eventstream)
// used by ConverseStream and InvokeModelWithResponseStream. Each message is
//   total length (u32) | headers length (u32) | prelude CRC32 (u32)
//   headers | payload | message CRC32 (u32)
// and may arrive split across any number of network chunks, so the decoder
// buffers until a whole message is present and verifies both checksums.

/** A header value as decoded from the wire. */
export type HeaderValue = string | number | boolean | bigint | Uint8Array | Date;

/** One decoded event-stream message. */
export interface EventMessage {
  headers: Record<string, HeaderValue>;
  payload: Uint8Array;
}

/** Raised when the byte stream is not valid event-stream framing. */
export class EventStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventStreamError';
  }
}

const CRC_TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** crc32 computes the IEEE CRC-32 of bytes[start, end). */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const PRELUDE = 12;
const MIN_MESSAGE = PRELUDE + 4;
/** Upper bound on one message, as in the AWS SDKs (16 MiB). */
export const MAX_MESSAGE = 16 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: false });

function decodeHeaders(b: Uint8Array): Record<string, HeaderValue> {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: Record<string, HeaderValue> = {};
  let i = 0;
  const need = (n: number) => {
    if (i + n > b.length) throw new EventStreamError('truncated header');
  };
  while (i < b.length) {
    need(1);
    const nameLen = b[i++];
    need(nameLen + 1);
    const name = utf8.decode(b.subarray(i, i + nameLen));
    i += nameLen;
    const type = b[i++];
    let value: HeaderValue;
    switch (type) {
      case 0:
        value = true;
        break;
      case 1:
        value = false;
        break;
      case 2:
        need(1);
        value = view.getInt8(i);
        i += 1;
        break;
      case 3:
        need(2);
        value = view.getInt16(i);
        i += 2;
        break;
      case 4:
        need(4);
        value = view.getInt32(i);
        i += 4;
        break;
      case 5:
        need(8);
        value = view.getBigInt64(i);
        i += 8;
        break;
      case 6:
      case 7: {
        need(2);
        const len = view.getUint16(i);
        i += 2;
        need(len);
        const raw = b.subarray(i, i + len);
        value = type === 7 ? utf8.decode(raw) : raw.slice();
        i += len;
        break;
      }
      case 8:
        need(8);
        value = new Date(Number(view.getBigInt64(i)));
        i += 8;
        break;
      case 9:
        need(16);
        value = b.slice(i, i + 16);
        i += 16;
        break;
      default:
        throw new EventStreamError(`unknown header type ${type}`);
    }
    out[name] = value;
  }
  return out;
}

/**
 * EventStreamDecoder accepts arbitrary byte chunks with push() and returns
 * every message completed by them. State is the unconsumed tail only.
 */
export class EventStreamDecoder {
  private buf = new Uint8Array(0);

  /** push appends chunk and returns the messages it completed, in order. */
  push(chunk: Uint8Array): EventMessage[] {
    if (chunk.length > 0) {
      const next = new Uint8Array(this.buf.length + chunk.length);
      next.set(this.buf, 0);
      next.set(chunk, this.buf.length);
      this.buf = next;
    }
    const out: EventMessage[] = [];
    let off = 0;
    while (this.buf.length - off >= PRELUDE) {
      const view = new DataView(this.buf.buffer, this.buf.byteOffset + off, this.buf.length - off);
      const total = view.getUint32(0);
      const headersLen = view.getUint32(4);
      if (total < MIN_MESSAGE || total > MAX_MESSAGE) {
        throw new EventStreamError(`invalid message length ${total}`);
      }
      if (headersLen > total - MIN_MESSAGE) {
        throw new EventStreamError(`invalid headers length ${headersLen}`);
      }
      if (crc32(this.buf, off, off + 8) !== view.getUint32(8)) {
        throw new EventStreamError('prelude checksum mismatch');
      }
      if (this.buf.length - off < total) break;
      if (crc32(this.buf, off, off + total - 4) !== view.getUint32(total - 4)) {
        throw new EventStreamError('message checksum mismatch');
      }
      const hStart = off + PRELUDE;
      const headers = decodeHeaders(this.buf.subarray(hStart, hStart + headersLen));
      const payload = this.buf.slice(hStart + headersLen, off + total - 4);
      out.push({ headers, payload });
      off += total;
    }
    this.buf = this.buf.slice(off);
    return out;
  }

  /** pending reports how many bytes of an incomplete message are buffered. */
  get pending(): number {
    return this.buf.length;
  }
}

/** encodeMessage frames headers (string values only) and payload; used by tests and fixtures. */
export function encodeMessage(headers: Record<string, string>, payload: Uint8Array): Uint8Array {
  const enc = new TextEncoder();
  const parts: number[] = [];
  for (const [k, v] of Object.entries(headers)) {
    const name = enc.encode(k);
    const val = enc.encode(v);
    parts.push(name.length, ...name, 7, (val.length >> 8) & 0xff, val.length & 0xff, ...val);
  }
  const hdr = Uint8Array.from(parts);
  const total = PRELUDE + hdr.length + payload.length + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, total);
  view.setUint32(4, hdr.length);
  view.setUint32(8, crc32(out, 0, 8));
  out.set(hdr, PRELUDE);
  out.set(payload, PRELUDE + hdr.length);
  view.setUint32(total - 4, crc32(out, 0, total - 4));
  return out;
}
