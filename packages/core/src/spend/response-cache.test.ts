import { describe, expect, it } from 'vitest';
import { chatCacheKey } from './response-cache.ts';

const base = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };

describe('chatCacheKey', () => {
  it('ignores the upstream headers: a traced request (new traceparent each time) still hits', () => {
    const a = chatCacheKey({
      ...base,
      headers: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` },
    });
    const b = chatCacheKey({
      ...base,
      headers: { traceparent: `00-${'c'.repeat(32)}-${'d'.repeat(16)}-01` },
    });
    expect(a.equals(b)).toBe(true);
    expect(a.equals(chatCacheKey(base))).toBe(true);
  });

  it('still tells different requests apart', () => {
    expect(chatCacheKey(base).equals(chatCacheKey({ ...base, temperature: 0.5 }))).toBe(false);
  });
});
