import type { GatewayChatResult } from './gateway.types.ts';

/** A chat call's answer as Tollgate's own surfaces show it (chat.complete, batch results). */
export function toChatResult(r: GatewayChatResult) {
  return {
    requestId: r.requestId,
    model: r.model,
    provider: r.provider,
    createdAt: new Date(r.created * 1000).toISOString(),
    content: r.content,
    toolCalls: r.toolCalls,
    finishReason: r.finishReason,
    ...(r.stopSequence !== undefined ? { stopSequence: r.stopSequence } : {}),
    usage: r.usage,
    cacheHit: r.cacheHit,
  };
}
