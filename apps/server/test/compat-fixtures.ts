import Anthropic from '@anthropic-ai/sdk';
import { seedModels, upsertModel } from '@tollgate/core';
import { createTestUser, type TestUser } from '@tollgate/core/testing';
import { type FakeUpstream, startFakeUpstream } from '@tollgate/test-kit';
import OpenAI from 'openai';
import { closeTestServer, listen, startTestServer, type TestServer } from './helpers.ts';

/** Everything a /v1 test needs: a listening server, a member with a key, both official SDKs. */
export type CompatEnv = {
  s: TestServer;
  url: string;
  fake: FakeUpstream;
  user: TestUser;
  openai: OpenAI;
  anthropic: Anthropic;
  close(): Promise<void>;
};

export const FAKE_OPENAI_KEY = 'sk-fake-openai';
export const FAKE_ANTHROPIC_KEY = 'sk-ant-fake';

/** Official SDK clients pointed at Tollgate, retries off (we want to see every error as it is). */
export function sdkClients(url: string, apiKey: string) {
  return {
    openai: new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 0, timeout: 20_000 }),
    anthropic: new Anthropic({ apiKey, baseURL: url, maxRetries: 0, timeout: 20_000 }),
  };
}

/**
 * A server whose openai and anthropic providers talk to a fake upstream, with catalog entries
 * `oa-mini` (openai: gpt-4o-mini) and `an-sonnet` (anthropic: claude-sonnet-4-6) for cross-format calls.
 */
export async function startCompatEnv(): Promise<CompatEnv> {
  const fake = await startFakeUpstream();
  const s = await startTestServer({
    OPENAI_API_KEY: FAKE_OPENAI_KEY,
    OPENAI_BASE_URL: `${fake.url}/v1`,
    ANTHROPIC_API_KEY: FAKE_ANTHROPIC_KEY,
    ANTHROPIC_BASE_URL: fake.url,
    // Fast failure in tests; the fake upstream never needs long.
    UPSTREAM_TTFT_TIMEOUT_MS: '10000',
    STREAM_IDLE_TIMEOUT_MS: '10000',
  });
  await seedModels(s.deps);
  const priced = { inputPricePerMTok: '1', outputPricePerMTok: '2' };
  await upsertModel(s.deps, {
    name: 'oa-mini',
    provider: 'openai',
    upstreamModel: 'gpt-4o-mini',
    kind: 'chat',
    ...priced,
  });
  await upsertModel(s.deps, {
    name: 'an-sonnet',
    provider: 'anthropic',
    upstreamModel: 'claude-sonnet-4-6',
    kind: 'chat',
    ...priced,
  });
  await upsertModel(s.deps, {
    name: 'oa-embed',
    provider: 'openai',
    upstreamModel: 'text-embedding-3-small',
    kind: 'embedding',
    ...priced,
  });
  const url = await listen(s.app);
  const user = await createTestUser(s.testDb.db);
  return {
    s,
    url,
    fake,
    user,
    ...sdkClients(url, user.apiKey),
    async close() {
      await closeTestServer(s);
      await fake.close();
    },
  };
}
