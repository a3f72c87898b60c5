import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { abortError } from './errors.ts';
import type {
  CallOptions,
  ChatMessage,
  ChatRequest,
  ChatResponse,
  EmbeddingRequest,
  EmbeddingResponse,
  Provider,
  StreamEvent,
  ToolCall,
  Usage,
} from './types.ts';
import { ProviderError } from './types.ts';

/** Upstream model ids the mock provider answers to. */
export const MOCK_MODELS = {
  echo: 'mock-echo',
  slow: 'mock-slow',
  embed: 'mock-embed',
} as const;

export const MOCK_EMBEDDING_DIMENSIONS = 256;
/** Delay between chunks of `mock-slow` (PRODUCT.md: one word every 50 ms). */
export const MOCK_SLOW_CHUNK_MS = 50;

/** ceil(chars / 4): the documented, deterministic token estimate of the mock provider. */
export function countTextTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function contentText(content: ChatMessage['content']): string {
  if (content === null) return '';
  if (typeof content === 'string') return content;
  return content.map((p) => (p.type === 'text' ? p.text : '')).join('');
}

function messageText(m: ChatMessage): string {
  let text = contentText(m.content);
  if (m.role === 'assistant' && m.tool_calls) {
    for (const c of m.tool_calls) text += c.function.name + c.function.arguments;
  }
  return text;
}

/** Input tokens of a chat request: per message ceil(chars/4) + 3 (docs/providers.md). */
export function countInputTokens(messages: ChatMessage[]): number {
  return messages.reduce((sum, m) => sum + countTextTokens(messageText(m)) + 3, 0);
}

function usageOf(inputTokens: number, outputTokens: number): Usage {
  return {
    inputTokens,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens,
    reasoningTokens: 0,
  };
}

function lastUserText(messages: ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role === 'user') return contentText(m.content);
  }
  return '';
}

/**
 * The answer cut to `maxTokens` (ceil(chars/4) tokens: the first maxTokens × 4 characters), like
 * a real model that hits max_tokens: the caller then sees finish reason `length`.
 */
export function truncateToTokens(
  text: string,
  maxTokens: number | undefined,
): { text: string; truncated: boolean } {
  if (maxTokens === undefined || countTextTokens(text) <= maxTokens) {
    return { text, truncated: false };
  }
  return { text: text.slice(0, maxTokens * 4), truncated: true };
}

/** Splits text into chunks of one word each (with its surrounding whitespace) that concatenate back exactly. */
export function splitWords(text: string): string[] {
  const words = text.match(/\s*\S+\s*/g);
  if (words) return words;
  return text.length > 0 ? [text] : [];
}

/**
 * When the caller forces a tool (tool_choice "required" or a named function), the mock answers with
 * one call to that tool whose arguments carry the last user message, so tool paths work offline.
 */
function forcedToolCall(req: ChatRequest, text: string): ToolCall | undefined {
  const tools = req.tools ?? [];
  const choice = req.tool_choice;
  let name: string | undefined;
  if (choice === 'required') name = tools[0]?.function.name;
  else if (typeof choice === 'object') name = choice.function.name;
  if (name === undefined) return undefined;
  return {
    id: `call_mock_${createHash('sha256')
      .update(name + text)
      .digest('hex')
      .slice(0, 24)}`,
    type: 'function',
    function: { name, arguments: JSON.stringify({ input: text }) },
  };
}

function checkChatModel(model: string): void {
  if (model !== MOCK_MODELS.echo && model !== MOCK_MODELS.slow) {
    throw new ProviderError('bad_request', `mock provider has no chat model '${model}'`, {
      status: 404,
    });
  }
}

async function wait(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    throw abortError('mock', signal);
  }
}

/** Deterministic unit vector from the text: SHA-256 blocks as bytes in [-1, 1], then normalized. */
export function mockEmbedding(text: string, dimensions = MOCK_EMBEDDING_DIMENSIONS): number[] {
  const raw: number[] = [];
  for (let block = 0; raw.length < dimensions; block++) {
    const digest = createHash('sha256').update(`${block}:${text}`).digest();
    for (const byte of digest) {
      if (raw.length === dimensions) break;
      raw.push((byte - 127.5) / 127.5);
    }
  }
  const norm = Math.sqrt(raw.reduce((s, v) => s + v * v, 0)) || 1;
  return raw.map((v) => v / norm);
}

/** The always-on offline provider: `mock-echo`, `mock-slow`, `mock-embed`. */
export function createMockProvider(): Provider {
  return {
    name: 'mock',

    async chat(req: ChatRequest, opts: CallOptions): Promise<ChatResponse> {
      checkChatModel(req.model);
      if (opts.signal.aborted) throw abortError('mock', opts.signal);
      const text = lastUserText(req.messages);
      if (req.model === MOCK_MODELS.slow) {
        // Non-streaming mock-slow takes as long as its stream would, so timeouts can be exercised.
        const total = splitWords(text).length * MOCK_SLOW_CHUNK_MS;
        const timeout = AbortSignal.timeout(opts.timeoutMs);
        try {
          await sleep(total, undefined, { signal: AbortSignal.any([opts.signal, timeout]) });
        } catch {
          if (opts.signal.aborted) throw abortError('mock', opts.signal);
          throw new ProviderError('timeout', `mock-slow exceeded ${opts.timeoutMs} ms`);
        }
      }
      const inputTokens = countInputTokens(req.messages);
      const call = forcedToolCall(req, text);
      if (call) {
        return {
          id: `mock-${randomUUID()}`,
          content: null,
          toolCalls: [call],
          finishReason: 'tool_calls',
          usage: usageOf(
            inputTokens,
            countTextTokens(call.function.name + call.function.arguments),
          ),
        };
      }
      const answer = truncateToTokens(text, req.max_tokens);
      return {
        id: `mock-${randomUUID()}`,
        content: answer.text,
        toolCalls: [],
        finishReason: answer.truncated ? 'length' : 'stop',
        usage: usageOf(inputTokens, countTextTokens(answer.text)),
      };
    },

    async *chatStream(req: ChatRequest, opts: CallOptions): AsyncIterable<StreamEvent> {
      checkChatModel(req.model);
      if (opts.signal.aborted) throw abortError('mock', opts.signal);
      const text = lastUserText(req.messages);
      const inputTokens = countInputTokens(req.messages);
      const call = forcedToolCall(req, text);
      if (call) {
        yield {
          type: 'delta',
          toolCalls: [
            {
              index: 0,
              id: call.id,
              name: call.function.name,
              arguments: call.function.arguments,
            },
          ],
        };
        yield { type: 'finish', finishReason: 'tool_calls' };
        yield {
          type: 'usage',
          usage: usageOf(
            inputTokens,
            countTextTokens(call.function.name + call.function.arguments),
          ),
        };
        return;
      }
      const slow = req.model === MOCK_MODELS.slow;
      const answer = truncateToTokens(text, req.max_tokens);
      const words = splitWords(answer.text);
      for (const [i, word] of words.entries()) {
        if (slow && i > 0) await wait(MOCK_SLOW_CHUNK_MS, opts.signal);
        if (opts.signal.aborted) throw abortError('mock', opts.signal);
        yield { type: 'delta', content: word };
      }
      yield { type: 'finish', finishReason: answer.truncated ? 'length' : 'stop' };
      yield { type: 'usage', usage: usageOf(inputTokens, countTextTokens(answer.text)) };
    },

    async embed(req: EmbeddingRequest, opts: CallOptions): Promise<EmbeddingResponse> {
      if (req.model !== MOCK_MODELS.embed) {
        throw new ProviderError(
          'bad_request',
          `mock provider has no embedding model '${req.model}'`,
          {
            status: 404,
          },
        );
      }
      if (opts.signal.aborted) throw abortError('mock', opts.signal);
      const dims = req.dimensions ?? MOCK_EMBEDDING_DIMENSIONS;
      return {
        vectors: req.input.map((t) => mockEmbedding(t, dims)),
        usage: { inputTokens: req.input.reduce((s, t) => s + countTextTokens(t), 0) },
      };
    },
  };
}
