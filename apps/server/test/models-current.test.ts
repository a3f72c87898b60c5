import { anthropicModels } from '@tollgate/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CompatEnv, startCompatEnv } from './compat-fixtures.ts';

let env: CompatEnv;
beforeAll(async () => {
  env = await startCompatEnv(); // seeds the catalog with the Anthropic models (fake upstream)
});
afterAll(() => env?.close());

describe('the seeded Anthropic catalog', () => {
  it('names no model the Anthropic SDK calls deprecated (it warns on each call to one)', async () => {
    // The SDK (ours to the upstream, and the caller's to us) prints a console warning for a
    // deprecated model: every seeded model is called once through both and nothing may warn.
    const warn = vi.spyOn(console, 'warn');
    try {
      for (const m of anthropicModels) {
        const msg = await env.anthropic.messages.create({
          model: m.name,
          max_tokens: 16,
          messages: [{ role: 'user', content: 'hi' }],
        });
        expect(msg.type).toBe('message');
      }
      const deprecations = warn.mock.calls
        .map((c) => String(c[0]))
        .filter((w) => /deprecated/.test(w));
      expect(deprecations).toEqual([]);
    } finally {
      warn.mockRestore();
    }
    expect(
      env.fake.requests('POST /v1/messages').map((r) => (r.body as { model?: string }).model),
    ).toEqual(anthropicModels.map((m) => m.upstreamModel));
  });
});
