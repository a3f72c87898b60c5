import { type ChatMessage, countInputTokens, type ProviderName } from '@tollgate/providers';
import type { Deps } from '../deps.ts';
import { resolveModel } from '../models/models.service.ts';
import type { CallContext } from './gateway.types.ts';
import { attemptSignal, classify, toDomainError } from './upstream-call.ts';

export type TokenCount = {
  inputTokens: number;
  /** 'upstream': the provider counted; 'local': Tollgate's documented estimate (docs/providers.md). */
  source: 'upstream' | 'local';
  model: string;
};

/**
 * Input tokens of a Messages body for a catalog model: the upstream's own count where the
 * provider offers one (Anthropic's count_tokens), else the local estimate the mock provider bills
 * with (ceil(chars / 4) per message + 3). Free: nothing is billed or written to the request log.
 */
export async function countTokens(
  deps: Pick<Deps, 'db' | 'config' | 'providers'>,
  input: {
    model: string;
    /** The caller's Messages body (for the upstream). */
    body: Record<string, unknown>;
    headers: Record<string, string>;
    /** The same request in canonical form (for the local count). */
    messages: ChatMessage[];
  },
  call: Pick<CallContext, 'signal'>,
): Promise<TokenCount> {
  const m = await resolveModel(deps, input.model, 'chat');
  const provider = deps.providers[m.provider as ProviderName];
  if (provider?.countTokens) {
    const a = attemptSignal(call.signal, performance.now() + deps.config.upstreamTimeoutMs);
    try {
      const n = await provider.countTokens(
        { model: m.upstreamModel, body: input.body, headers: input.headers },
        a.options(),
      );
      return { inputTokens: n, source: 'upstream', model: m.name };
    } catch (e) {
      throw toDomainError(classify(e, a.why));
    } finally {
      a.dispose();
    }
  }
  return { inputTokens: countInputTokens(input.messages), source: 'local', model: m.name };
}
