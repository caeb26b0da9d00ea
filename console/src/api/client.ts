// The console's one HTTP client. Every call goes to the same origin with the
// session cookie; state-changing calls carry X-Outcrop-CSRF. Errors in any of
// the server's shapes (Bedrock {"message"} + X-Amzn-ErrorType, OpenAI
// {"error":{...}}, admin {"message"}) become an ApiError with a readable message.

/** An HTTP error from the server, normalised across API shapes. */
export class ApiError extends Error {
  readonly status: number;
  /** Bedrock exception name or OpenAI error type, when the server gave one. */
  readonly type: string;
  readonly requestId: string;

  constructor(status: number, message: string, type = '', requestId = '') {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.requestId = requestId;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** statusText gives a fallback message for a status with no body. */
export function statusText(status: number): string {
  switch (status) {
    case 400:
      return 'The request was not valid';
    case 401:
      return 'Not signed in, or the session expired';
    case 403:
      return 'Access denied';
    case 404:
      return 'Not found';
    case 409:
      return 'Conflict with the current state';
    case 413:
      return 'The request is too large';
    case 429:
      return 'Too many requests: try again shortly';
    case 503:
      return 'The service is unavailable';
    default:
      return status >= 500 ? `Server error (${status})` : `Request failed (${status})`;
  }
}

/**
 * parseError turns a status, headers and body text into an ApiError,
 * whichever API shape the body has. It never throws.
 */
export function parseError(status: number, headers: Headers, body: string): ApiError {
  const requestId = headers.get('x-amzn-requestid') ?? headers.get('x-request-id') ?? '';
  let type = (headers.get('x-amzn-errortype') ?? '').split(':')[0];
  let message = '';
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) {
    try {
      const v: unknown = JSON.parse(trimmed);
      if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        const err = o.error;
        if (err && typeof err === 'object') {
          const e = err as Record<string, unknown>;
          if (typeof e.message === 'string') message = e.message;
          if (!type && typeof e.type === 'string') type = e.type;
          if (!type && typeof e.code === 'string') type = e.code;
        } else if (typeof err === 'string') {
          message = err;
        }
        if (!message && typeof o.message === 'string') message = o.message;
        if (!message && typeof o.Message === 'string') message = o.Message;
        if (!type && typeof o.__type === 'string') type = o.__type.split('#').pop() ?? '';
      }
    } catch {
      // not JSON after all: fall through to the text
    }
  } else if (trimmed && trimmed.length <= 300 && !trimmed.startsWith('<')) {
    message = trimmed;
  }
  if (!message) message = statusText(status);
  return new ApiError(status, message, type, requestId);
}

/** readableError renders any thrown value as one line for the UI. */
export function readableError(err: unknown): string {
  if (err instanceof ApiError) {
    const prefix = err.type && !err.message.startsWith(err.type) ? `${err.type}: ` : '';
    return prefix + err.message;
  }
  if (err instanceof DOMException && err.name === 'AbortError') return 'Stopped';
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Options for one request. */
export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | undefined | null>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Fetcher is the subset of window.fetch the client uses (tests pass their own). */
export type Fetcher = (input: string, init: RequestInit) => Promise<Response>;

/** withQuery appends the defined entries of query to path. */
export function withQuery(path: string, query?: RequestOptions['query']): string {
  if (!query) return path;
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  if (!s) return path;
  return path + (path.includes('?') ? '&' : '?') + s;
}

/** Client sends requests with the session cookie and CSRF token. */
export class Client {
  private csrf = '';
  private readonly fetcher: Fetcher;
  /** onUnauthorized runs when a call answers 401 (the session ended). */
  onUnauthorized: (() => void) | null = null;

  constructor(fetcher?: Fetcher) {
    this.fetcher = fetcher ?? ((input, init) => fetch(input, init));
  }

  /** setCSRF records the token from the session endpoint. */
  setCSRF(token: string) {
    this.csrf = token;
  }

  /** raw performs the request and returns the Response when it succeeded. */
  async raw(path: string, opts: RequestOptions = {}): Promise<Response> {
    const method = (opts.method ?? (opts.body === undefined ? 'GET' : 'POST')).toUpperCase();
    const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
    let body: BodyInit | undefined;
    if (opts.body !== undefined) {
      if (opts.body instanceof Blob || opts.body instanceof FormData || typeof opts.body === 'string') {
        body = opts.body;
      } else {
        body = JSON.stringify(opts.body);
        headers['Content-Type'] = 'application/json';
      }
    }
    if (!SAFE_METHODS.has(method) && this.csrf) headers['X-Outcrop-CSRF'] = this.csrf;
    const res = await this.fetcher(withQuery(path, opts.query), {
      method,
      headers,
      body,
      credentials: 'same-origin',
      signal: opts.signal,
    });
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      const err = parseError(res.status, res.headers, text);
      if (res.status === 401 && this.onUnauthorized) this.onUnauthorized();
      throw err;
    }
    return res;
  }

  /** json performs the request and decodes a JSON answer (undefined for 204). */
  async json<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(path, opts);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(res.status, 'The server sent a response that is not JSON');
    }
  }
}

/** api is the client shared by every screen. */
export const api = new Client();
