export type {
  FakeRequest,
  FakeRoute,
  FakeStep,
  FakeToolCall,
  FakeUpstream,
  FakeUpstreamOptions,
} from './fake-upstream.ts';
export { startFakeUpstream } from './fake-upstream.ts';
export type {
  OtlpAnyValue,
  OtlpKeyValue,
  OtlpReceiver,
  OtlpSpan,
  OtlpTraceRequest,
} from './otlp-receiver.ts';
export { decodeOtlpTraces, startOtlpReceiver } from './otlp-receiver.ts';
export type { Exited, ProcessOutput } from './process-output.ts';
export { watchOutput } from './process-output.ts';
export type { TestDb } from './test-db.ts';
export { createTestDb } from './test-db.ts';
