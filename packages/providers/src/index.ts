export type { AnthropicProviderOptions } from './anthropic.ts';
export {
  ANTHROPIC_DEFAULT_MAX_TOKENS,
  anthropicFinish,
  createAnthropicProvider,
  createAnthropicStreamMapper,
  fromAnthropicMessage,
  mapAnthropicStop,
  normalizeAnthropicUsage,
  toAnthropicParams,
} from './anthropic.ts';
export { abortError, kindForStatus, parseRetryAfter, toProviderError } from './errors.ts';
export {
  countInputTokens,
  countTextTokens,
  createMockProvider,
  MOCK_EMBEDDING_DIMENSIONS,
  MOCK_MODELS,
  MOCK_SLOW_CHUNK_MS,
  mockEmbedding,
} from './mock.ts';
export type { OpenAIProviderOptions } from './openai.ts';
export {
  AZURE_DEFAULT_API_VERSION,
  createOpenAIProvider,
  mapOpenAIFinish,
  normalizeOpenAIUsage,
} from './openai.ts';
export type {
  ConnectionKind,
  ConnectionSpec,
  Providers,
  ProvidersOptions,
} from './registry.ts';
export { createConnectionProvider, createProviders } from './registry.ts';
export type {
  CallOptions,
  ChatMessage,
  ChatRequest,
  ChatResponse,
  ContentPart,
  CountTokensRequest,
  EmbeddingRequest,
  EmbeddingResponse,
  FinishReason,
  NativeBody,
  Provider,
  ProviderErrorKind,
  ProviderName,
  ProviderRegistry,
  ReasoningBlock,
  ReasoningDelta,
  ResponseFormat,
  StreamEvent,
  ToolCall,
  ToolCallDelta,
  ToolChoice,
  ToolDefinition,
  Usage,
} from './types.ts';
export { ProviderError } from './types.ts';
