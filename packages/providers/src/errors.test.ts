import { describe, expect, it } from 'vitest';
import { loadAnthropicSdk } from './anthropic-sdk.ts';
import {
  headerBag,
  kindForStatus,
  parseRetryAfter,
  statusError,
  streamEventError,
  toProviderError,
} from './errors.ts';
import { createProviders } from './registry.ts';
import { ProviderError } from './types.ts';

const headers = (h: Record<string, string>) => new Headers(h);

describe('provider error classification', () => {
  it('parses retry-after-ms, retry-after seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter(headers({ 'retry-after-ms': '250.4' }), now)).toBe(250);
    expect(parseRetryAfter(headers({ 'retry-after': '1.5' }), now)).toBe(1500);
    expect(parseRetryAfter(headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:07 GMT' }), now)).toBe(
      7000,
    );
    expect(parseRetryAfter(headers({ 'retry-after': 'Wed, 31 Dec 2025 00:00:00 GMT' }), now)).toBe(
      0,
    );
    expect(parseRetryAfter(headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(parseRetryAfter(headers({}), now)).toBeUndefined();
  });

  it('maps statuses to kinds', () => {
    expect(
      [429, 500, 502, 529, 400, 404, 422, 401, 403, 408, undefined].map((s) => kindForStatus(s)),
    ).toEqual([
      'rate_limited',
      'server',
      'server',
      'server',
      'bad_request',
      'bad_request',
      'bad_request',
      'auth',
      'auth',
      'timeout',
      'server',
    ]);
  });

  it('an SDK error while our signal is aborted is always aborted', async () => {
    const AnthropicErrors = await loadAnthropicSdk();
    const ac = new AbortController();
    ac.abort();
    const e = toProviderError('anthropic', new AnthropicErrors.APIConnectionError({}), ac.signal);
    expect(e).toBeInstanceOf(ProviderError);
    expect(e.kind).toBe('aborted');
    expect(e.retryable).toBe(false);
  });

  it('SDK classes map to kinds and key-like text is redacted', async () => {
    const AnthropicErrors = await loadAnthropicSdk();
    const signal = new AbortController().signal;
    expect(
      toProviderError('anthropic', new AnthropicErrors.APIConnectionTimeoutError(), signal).kind,
    ).toBe('timeout');
    expect(
      toProviderError('anthropic', new AnthropicErrors.APIConnectionError({ message: 'x' }), signal)
        .kind,
    ).toBe('connection');
    const apiErr = AnthropicErrors.APIError.generate(
      401,
      {
        type: 'error',
        error: { type: 'authentication_error', message: 'bad key sk-ant-abcdef123456' },
      },
      undefined,
      headers({}),
    );
    const e = toProviderError('anthropic', apiErr, signal);
    expect(e.kind).toBe('auth');
    expect(e.message).not.toContain('sk-ant-abcdef123456');
    const t = new TypeError('terminated');
    expect(toProviderError('anthropic', t, signal).kind).toBe('connection');
  });

  it('status answers read off the wire: kind, status, retry-after, the body message, no key', () => {
    const limited = statusError(
      'openai',
      429,
      JSON.stringify({ error: { message: 'Rate limit reached', type: 'requests', code: null } }),
      headerBag({ 'retry-after': '2' }),
    );
    expect(limited).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 2000 });
    expect(limited.message).toBe('openai: 429 Rate limit reached');
    const auth = statusError(
      'openai',
      401,
      JSON.stringify({ error: { message: 'Incorrect API key provided: sk-proj-abcdef123456' } }),
      headerBag({}),
    );
    expect(auth.kind).toBe('auth');
    expect(auth.message).not.toContain('sk-proj-abcdef123456');
    expect(statusError('openai', 502, '<html>bad gateway</html>', undefined).message).toBe(
      'openai: 502 <html>bad gateway</html>',
    );
    expect(statusError('openai', 503, '', undefined).message).toBe(
      'openai: 503 status code (no body)',
    );
    const inBand = streamEventError('openai', JSON.stringify({ error: { message: 'overloaded' } }));
    expect(inBand).toMatchObject({ kind: 'server', message: 'openai: overloaded' });
  });

  it('our own whole-call limit (a TimeoutError) is a timeout, not a server error', () => {
    const e = toProviderError(
      'openai',
      new DOMException('upstream call timed out', 'TimeoutError'),
      new AbortController().signal,
    );
    expect(e.kind).toBe('timeout');
  });

  it('createProviders adds openai/anthropic only when configured', () => {
    const p = createProviders({
      openai: { apiKey: 'sk-a', baseUrl: 'http://127.0.0.1:9/v1' },
      anthropic: { apiKey: 'sk-b', baseUrl: undefined },
      upstreamTimeoutMs: 1000,
    });
    expect(Object.keys(p).sort()).toEqual(['anthropic', 'mock', 'openai']);
    expect(p.openai?.name).toBe('openai');
    expect(p.anthropic?.name).toBe('anthropic');
  });
});
