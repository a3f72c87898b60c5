import * as OpenAIErrors from 'openai';
import { describe, expect, it } from 'vitest';
import { kindForStatus, parseRetryAfter, toProviderError } from './errors.ts';
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

  it('an SDK error while our signal is aborted is always aborted', () => {
    const ac = new AbortController();
    ac.abort();
    const e = toProviderError('openai', new OpenAIErrors.APIConnectionError({}), ac.signal);
    expect(e).toBeInstanceOf(ProviderError);
    expect(e.kind).toBe('aborted');
    expect(e.retryable).toBe(false);
  });

  it('SDK classes map to kinds and key-like text is redacted', () => {
    const signal = new AbortController().signal;
    expect(
      toProviderError('openai', new OpenAIErrors.APIConnectionTimeoutError(), signal).kind,
    ).toBe('timeout');
    expect(
      toProviderError('openai', new OpenAIErrors.APIConnectionError({ message: 'x' }), signal).kind,
    ).toBe('connection');
    const apiErr = OpenAIErrors.APIError.generate(
      401,
      { message: 'Incorrect API key provided: sk-proj-abcdef123456' },
      undefined,
      headers({}),
    );
    const e = toProviderError('openai', apiErr, signal);
    expect(e.kind).toBe('auth');
    expect(e.message).not.toContain('sk-proj-abcdef123456');
    const t = new TypeError('terminated');
    expect(toProviderError('anthropic', t, signal).kind).toBe('connection');
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
