import { describe, expect, it } from 'vitest';
import { ApiError, Client, parseError, readableError, withQuery } from './client';

function recorder(responses: Response[]) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetcher = async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const r = responses.shift();
    if (!r) throw new Error('no response queued');
    return r;
  };
  return { calls, fetcher };
}

describe('parseError', () => {
  it('reads a Bedrock error', () => {
    const h = new Headers({ 'X-Amzn-ErrorType': 'ValidationException:http://internal.amazon.com/', 'x-amzn-RequestId': 'r1' });
    const e = parseError(400, h, '{"message":"1 validation error detected"}');
    expect(e).toMatchObject({ status: 400, type: 'ValidationException', message: '1 validation error detected', requestId: 'r1' });
    expect(readableError(e)).toBe('ValidationException: 1 validation error detected');
  });

  it('reads an OpenAI error', () => {
    const e = parseError(404, new Headers(), '{"error":{"message":"model not found","type":"invalid_request_error","code":"model_not_found"}}');
    expect(e).toMatchObject({ status: 404, type: 'invalid_request_error', message: 'model not found' });
  });

  it('reads an admin error and a JSON-RPC style __type', () => {
    expect(parseError(403, new Headers(), '{"message":"CSRF token missing or invalid"}').message).toBe('CSRF token missing or invalid');
    const e = parseError(400, new Headers(), '{"__type":"com.amazon#ThrottlingException","Message":"slow down"}');
    expect(e).toMatchObject({ type: 'ThrottlingException', message: 'slow down' });
  });

  it('falls back to a status text for empty, HTML or broken bodies', () => {
    expect(parseError(401, new Headers(), '').message).toMatch(/Not signed in/);
    expect(parseError(502, new Headers(), '<html><body>Bad gateway</body></html>').message).toBe('Server error (502)');
    expect(parseError(400, new Headers(), '{"message":').message).toBe('The request was not valid');
    expect(parseError(429, new Headers(), 'rate limited').message).toBe('rate limited');
  });

  it('never throws on arbitrary bodies', () => {
    for (const b of ['null', '[]', '{"error":null}', '{"error":5}', '{"error":"x"}', '"str"', '{"message":{}}']) {
      expect(parseError(400, new Headers(), b)).toBeInstanceOf(ApiError);
    }
    expect(parseError(400, new Headers(), '{"error":"plain"}').message).toBe('plain');
  });
});

describe('Client', () => {
  it('sends the CSRF token on state-changing calls only, with same-origin credentials', async () => {
    const { calls, fetcher } = recorder([
      new Response('{"ok":1}', { status: 200 }),
      new Response('{"ok":2}', { status: 200 }),
      new Response(null, { status: 204 }),
    ]);
    const c = new Client(fetcher);
    c.setCSRF('tok');
    expect(await c.json('/guardrails', { query: { maxResults: 10, nextToken: undefined } })).toEqual({ ok: 1 });
    expect(await c.json('/guardrails', { body: { name: 'g' } })).toEqual({ ok: 2 });
    expect(await c.json('/x', { method: 'DELETE' })).toBeUndefined();
    expect(calls[0].url).toBe('/guardrails?maxResults=10');
    const h0 = calls[0].init.headers as Record<string, string>;
    const h1 = calls[1].init.headers as Record<string, string>;
    const h2 = calls[2].init.headers as Record<string, string>;
    expect(h0['X-Outcrop-CSRF']).toBeUndefined();
    expect(h1['X-Outcrop-CSRF']).toBe('tok');
    expect(h1['Content-Type']).toBe('application/json');
    expect(calls[1].init.method).toBe('POST');
    expect(calls[1].init.body).toBe('{"name":"g"}');
    expect(h2['X-Outcrop-CSRF']).toBe('tok');
    expect(calls.every((c) => c.init.credentials === 'same-origin')).toBe(true);
  });

  it('turns errors into ApiError and reports 401', async () => {
    let unauthorized = 0;
    const { fetcher } = recorder([
      new Response('{"message":"no session"}', { status: 401 }),
      new Response('{"error":{"message":"bad","type":"invalid_request_error"}}', { status: 400 }),
      new Response('not json', { status: 200 }),
    ]);
    const c = new Client(fetcher);
    c.onUnauthorized = () => unauthorized++;
    await expect(c.json('/a')).rejects.toMatchObject({ status: 401, message: 'no session' });
    expect(unauthorized).toBe(1);
    await expect(c.json('/b')).rejects.toMatchObject({ status: 400, type: 'invalid_request_error' });
    expect(unauthorized).toBe(1);
    await expect(c.json('/c')).rejects.toThrow(/not JSON/);
  });

  it('passes FormData and strings through untouched', async () => {
    const { calls, fetcher } = recorder([new Response('{}'), new Response('{}')]);
    const c = new Client(fetcher);
    const fd = new FormData();
    fd.set('purpose', 'assistants');
    await c.json('/v1/files', { body: fd });
    await c.json('/raw', { method: 'PUT', body: 'text' });
    expect(calls[0].init.body).toBe(fd);
    expect((calls[0].init.headers as Record<string, string>)['Content-Type']).toBeUndefined();
    expect(calls[1].init.body).toBe('text');
  });
});

describe('withQuery', () => {
  it('appends only defined values and keeps existing queries', () => {
    expect(withQuery('/p', { a: 1, b: '', c: null, d: 'x y' })).toBe('/p?a=1&d=x+y');
    expect(withQuery('/p?z=1', { a: 2 })).toBe('/p?z=1&a=2');
    expect(withQuery('/p', {})).toBe('/p');
  });
});
