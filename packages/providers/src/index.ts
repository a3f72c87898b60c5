export {
  countInputTokens,
  countTextTokens,
  createMockProvider,
  MOCK_EMBEDDING_DIMENSIONS,
  MOCK_MODELS,
  MOCK_SLOW_CHUNK_MS,
  mockEmbedding,
} from './mock.ts';
export type { Providers, ProvidersOptions } from './registry.ts';
export { createProviders } from './registry.ts';
export type {
  CallOptions,
  ChatMessage,
  ChatRequest,
  ChatResponse,
  ContentPart,
  EmbeddingRequest,
  EmbeddingResponse,
  FinishReason,
  Provider,
  ProviderErrorKind,
  ProviderName,
  ProviderRegistry,
  ResponseFormat,
  StreamEvent,
  ToolCall,
  ToolCallDelta,
  ToolChoice,
  ToolDefinition,
  Usage,
} from './types.ts';
export { ProviderError } from './types.ts';
