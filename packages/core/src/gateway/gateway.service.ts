import { randomUUID } from 'node:crypto';
import {
  countInputTokens,
  countTextTokens,
  type FinishReason,
  type ProviderError,
  type StreamEvent,
  type ToolCall,
  type Usage,
} from '@tollgate/providers';
import type { UserPrincipal } from '../auth/principal.ts';
import { getConnections } from '../connections/connection-registry.ts';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';
import {
  type CatalogModel,
  fallbackChain,
  type ModelKind,
  resolveModel,
} from '../models/models.service.ts';
import type { RequestStatus } from '../requests/request-log.writer.ts';
import { callLimitChecks, connectionLimitChecks } from '../spend/checks.ts';
import type { Admission, LimitCheck } from '../spend/limiter.ts';
import { type CachedChat, chatCacheKey } from '../spend/response-cache.ts';
import { checkModelAllowed } from '../teams/team-access.ts';
import type {
  CallContext,
  GatewayChatInput,
  GatewayChatResult,
  GatewayEmbeddingInput,
  GatewayEmbeddingResult,
  GatewayStream,
  GatewayStreamEvent,
} from './gateway.types.ts';
import {
  beginAttempt,
  type Deployment,
  deploymentsOf,
  orderDeployments,
  routingState,
  type Target,
} from './routing.ts';
import {
  type AttemptSignal,
  attemptSignal,
  classify,
  defaultTuning,
  domainCodeOf,
  type GatewayTuning,
  raceAbort,
  retryDelay,
  statusLabel,
  toDomainError,
} from './upstream-call.ts';

/** What a gateway call needs; callers that run calls themselves (the batch runner) take the same. */
export type GatewayDeps = Pick<
  Deps,
  | 'db'
  | 'config'
  | 'log'
  | 'metrics'
  | 'providers'
  | 'clock'
  | 'requestLog'
  | 'limiter'
  | 'responseCache'
  | 'auth'
>;

const zeroUsage: Usage = {
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
};

/** Whether `m` can produce `maxTokens` output tokens (a model without a known limit can). */
const allowsOutput = (m: CatalogModel, maxTokens: number | undefined) =>
  maxTokens === undefined || m.maxOutputTokens === null || maxTokens <= m.maxOutputTokens;

/**
 * The model asked for, then its fallbacks, each expanded into its deployments on connections this
 * process has (routing.ts orders them); only models the caller's allow-lists admit (teams: a
 * disallowed model is a 403, a disallowed fallback skipped). A max_tokens above the model's
 * output limit is refused here, for every surface, before any upstream call; fallbacks with a
 * lower limit are skipped. Cooled-down deployments come after every healthy one, fallbacks'
 * included.
 */
async function targets(
  deps: GatewayDeps,
  name: string,
  kind: ModelKind,
  who: UserPrincipal,
  tuning: GatewayTuning,
  maxTokens?: number,
): Promise<Target[]> {
  const primary = await resolveModel(deps, name, kind);
  const allowed = await checkModelAllowed(deps, who, primary, name);
  const connections = await getConnections(deps);
  const state = routingState(deps.db);
  const primaryDeployments = deploymentsOf(state, primary, connections);
  if (primaryDeployments.length === 0) {
    throw new DomainError(
      'model_not_found',
      `model '${name}' is not available: its provider '${primary.provider}' is not configured`,
      { param: 'model' },
    );
  }
  if (!allowsOutput(primary, maxTokens)) {
    throw new DomainError(
      'bad_request',
      `max_tokens is too large: ${maxTokens} exceeds the maximum of ${primary.maxOutputTokens} output tokens of model '${primary.name}'`,
      { param: 'max_tokens' },
    );
  }
  const healthy: Target[] = [];
  const cooled: Target[] = [];
  const add = (m: CatalogModel, all: Deployment[]) => {
    const o = orderDeployments(state, m, all, tuning.random);
    const multi = all.length > 1;
    for (const d of o.healthy) healthy.push({ model: m, deployment: d, multi });
    for (const d of o.cooled) cooled.push({ model: m, deployment: d, multi });
  };
  add(primary, primaryDeployments);
  for (const f of await fallbackChain(deps, primary)) {
    if (!allowed(f)) continue;
    if (allowsOutput(f, maxTokens)) add(f, deploymentsOf(state, f, connections));
  }
  return healthy.concat(cooled);
}

type Outcome = {
  target: Target;
  status: RequestStatus;
  errorCode: string | null;
  usage: Usage;
  usageEstimated: boolean;
  ttftMs: number | null;
  bodies?: { request: unknown; response: unknown } | undefined;
  cacheHit?: boolean;
  /** Settled here at the call's actual use; absent for refusals and cache hits. */
  admission?: Admission | undefined;
  /** The succeeding attempt's connection quota (runChain), settled here likewise. */
  quota?: Admission | undefined;
};

/** Hands the row to the buffered writer and feeds metrics; never awaits the database. */
function record(
  deps: GatewayDeps,
  call: CallContext,
  startedAt: Date,
  started: number,
  o: Outcome,
) {
  const m = o.target.model;
  const d = o.target.deployment;
  deps.requestLog.record({
    id: randomUUID(),
    requestId: call.requestId,
    userId: call.principal.userId,
    keyId: call.principal.keyId,
    batchItemId: call.batchItemId ?? null,
    model: m.name,
    provider: d.connection.providerLabel,
    upstreamModel: d.upstreamModel,
    connection: d.connection.name,
    status: o.status,
    errorCode: o.errorCode,
    latencyMs: performance.now() - started,
    ttftMs: o.ttftMs,
    usage: o.usage,
    usageEstimated: o.usageEstimated,
    cacheHit: o.cacheHit === true,
    surface: call.surface,
    createdAt: startedAt,
    prices: d.prices,
    bodies: deps.config.logBodies ? o.bodies : undefined,
  });
  const labels = d.labels;
  if (o.usage.inputTokens > 0) deps.metrics.tokens.inc(labels.input, o.usage.inputTokens);
  if (o.usage.outputTokens > 0) deps.metrics.tokens.inc(labels.output, o.usage.outputTokens);
  // A float is fine for a counter and for the limiter's local books; the request log's cost is
  // the exact figure.
  const cost = approximateCost(d.prices, o.usage);
  if (cost !== null && cost > 0) deps.metrics.costUsd.inc(labels.model, cost);
  const tokens = o.usage.inputTokens + o.usage.outputTokens;
  o.admission?.settle({ usd: cost ?? 0, tokens });
  o.quota?.settle({ tokens });
}

/** Output tokens a call may produce on a model when it does not say (no max_tokens, no catalog max). */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4096;

/** The worst case of a call on one catalog entry in USD; null when the model is unpriced. */
function worstCost(m: CatalogModel, inputTokens: number, outputTokens: number): number | null {
  if (m.inputPricePerMTok === null || m.outputPricePerMTok === null) return null;
  const pin = Number(m.inputPricePerMTok);
  const pwrite = m.cacheWritePricePerMTok === null ? pin : Number(m.cacheWritePricePerMTok);
  return (inputTokens * Math.max(pin, pwrite) + outputTokens * Number(m.outputPricePerMTok)) / 1e6;
}

const isPriced = (t: Target) =>
  t.model.inputPricePerMTok !== null && t.model.outputPricePerMTok !== null;

/**
 * Reserves the call's worst case (input tokens counted from the request + its max output, at the
 * dearest model of the chain) against every budget and rate limit that applies. A refusal is a
 * logged `rejected` row at cost 0 and a rejection metric. Under a budget, unpriced fallbacks are
 * dropped from the chain (the primary being unpriced is refused by the limiter).
 */
async function admitCall(
  deps: GatewayDeps,
  call: CallContext,
  chain: Target[],
  need: { inputTokens: number; maxTokens: number | undefined; kind: ModelKind },
  request: unknown,
): Promise<{ admission: Admission; chain: Target[]; tokens: number }> {
  let maxOut = 0;
  let usd: number | null = 0;
  for (const t of chain) {
    const out =
      need.kind === 'chat'
        ? (need.maxTokens ?? t.model.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS)
        : 0;
    if (out > maxOut) maxOut = out;
    const c = worstCost(t.model, need.inputTokens, out);
    if (t === chain[0] && c === null) usd = null;
    else if (usd !== null && c !== null && c > usd) usd = c;
  }
  let admission: Admission;
  try {
    admission = await deps.limiter.admit(
      callLimitChecks(call.principal, usd, need.inputTokens + maxOut),
    );
  } catch (e) {
    if (e instanceof DomainError && e.code !== 'unavailable') {
      deps.metrics.rejections.inc({
        reason: e.code === 'rate_limit_exceeded' ? 'rate_limit' : 'budget',
      });
      record(deps, call, deps.clock.now(), performance.now(), {
        // biome-ignore lint/style/noNonNullAssertion: the chain is never empty (targets() checks)
        target: chain[0]!,
        status: 'rejected',
        errorCode: e.code,
        usage: zeroUsage,
        usageEstimated: false,
        ttftMs: null,
        bodies: { request, response: null },
      });
    }
    throw e;
  }
  if (call.setHeader !== undefined) {
    const h = admission.rateLimitHeaders();
    for (const name in h) call.setHeader(name, h[name] as string);
  }
  return {
    admission,
    chain: admission.budgeted ? chain.filter(isPriced) : chain,
    tokens: need.inputTokens + maxOut,
  };
}

/** Whether this call reads and fills the exact-match cache: the header wins over the key's default. */
function cacheWanted(call: CallContext): boolean {
  return call.cache === 'on' || (call.cache !== 'off' && call.principal.key?.cache === true);
}

/** A cache hit: logged as a call at cost 0 with cacheHit true, counted, never sent upstream. */
function recordCacheHit(
  deps: GatewayDeps,
  call: CallContext,
  chain: Target[],
  hit: CachedChat,
  input: GatewayChatInput,
): Date {
  const startedAt = deps.clock.now();
  const target = chain.find((t) => t.model.name === hit.model) ?? (chain[0] as Target);
  deps.metrics.cacheHits.inc({ model: hit.model });
  record(deps, call, startedAt, performance.now(), {
    target,
    status: 'ok',
    errorCode: null,
    usage: zeroUsage,
    usageEstimated: false,
    ttftMs: 0,
    cacheHit: true,
    bodies: { request: input, response: hit },
  });
  return startedAt;
}

/** The cached answer for this call when it opted in, with x-tollgate-cache set either way. */
async function cacheLookup(
  deps: GatewayDeps,
  call: CallContext,
  input: GatewayChatInput,
): Promise<{ key: Buffer | undefined; hit: CachedChat | undefined }> {
  if (!cacheWanted(call)) {
    call.setHeader?.('x-tollgate-cache', 'miss');
    return { key: undefined, hit: undefined };
  }
  const key = chatCacheKey(input);
  const hit = await deps.responseCache.get(call.principal.userId, key);
  call.setHeader?.('x-tollgate-cache', hit ? 'hit' : 'miss');
  return { key, hit };
}

function approximateCost(p: Deployment['prices'], u: Usage): number | null {
  if (p.input === null || p.output === null) return null;
  const pin = Number(p.input);
  const pcached = p.cachedInput === null ? pin : Number(p.cachedInput);
  const pwrite = p.cacheWrite === null ? pin : Number(p.cacheWrite);
  const plain = Math.max(0, u.inputTokens - u.cachedInputTokens - u.cacheWriteTokens);
  return (
    (plain * pin +
      u.cachedInputTokens * pcached +
      u.cacheWriteTokens * pwrite +
      u.outputTokens * Number(p.output)) /
    1e6
  );
}

function observeAttempt(
  deps: GatewayDeps,
  t: Target,
  seconds: number,
  err: ProviderError | null,
): void {
  const l = t.deployment.labels.model;
  deps.metrics.upstreamDuration.observe(
    { provider: l.provider, model: l.model, connection: l.connection, status: statusLabel(err) },
    seconds,
  );
}

type Finish = ReturnType<typeof beginAttempt>;

class ChainFailure extends Error {
  readonly error: ProviderError;
  readonly target: Target;
  constructor(error: ProviderError, target: Target) {
    super(error.message);
    this.error = error;
    this.target = target;
  }
}

/**
 * Admits one attempt against its connection's RPM/TPM quota through the shared limiter. Undefined:
 * the connection has no allowance left this minute, `refused` says why.
 */
async function admitAttempt(
  deps: GatewayDeps,
  checks: readonly LimitCheck[],
  refused: { error: DomainError | undefined },
): Promise<Admission | undefined> {
  try {
    return await deps.limiter.admit(checks);
  } catch (e) {
    if (!(e instanceof DomainError) || e.code !== 'rate_limit_exceeded') throw e;
    refused.error = e;
    return undefined;
  }
}

/**
 * Tries each target in turn, each with up to `maxRetries` retries on retryable failures (429, 5xx,
 * connection; a timeout goes straight to the next fallback). Each attempt on a connection with a
 * quota is admitted against it first; one over its quota is skipped for the next target, and when
 * every target was skipped so the call is refused with rate_limit_exceeded (a logged `rejected`
 * row). `run` starts one attempt and resolves once it succeeded (for streams: once the first
 * event arrived). The attempt's signal and `quota` are the caller's to dispose/settle on success.
 */
async function runChain<T>(
  deps: GatewayDeps,
  call: CallContext,
  chain: Target[],
  tuning: GatewayTuning,
  deadlineAt: number,
  tokens: number,
  run: (t: Target, a: AttemptSignal) => Promise<T>,
): Promise<{
  target: Target;
  value: T;
  attempt: AttemptSignal;
  attemptStarted: number;
  finish: Finish;
  quota: Admission | undefined;
}> {
  let last: ChainFailure | undefined;
  const refused: { error: DomainError | undefined } = { error: undefined };
  const state = routingState(deps.db);
  for (const target of chain) {
    for (let attempt = 0; ; attempt++) {
      // A connection without a quota: no limiter call, not even an await.
      const checks = connectionLimitChecks(target.deployment.connection, tokens);
      let quota: Admission | undefined;
      if (checks.length > 0) {
        quota = await admitAttempt(deps, checks, refused);
        if (quota === undefined) break; // over its connection's quota: the next target
      }
      const a = attemptSignal(call.signal, deadlineAt);
      const attemptStarted = performance.now();
      const finish = beginAttempt(state, target.deployment);
      try {
        const value = await raceAbort(run(target, a), a.signal);
        return { target, value, attempt: a, attemptStarted, finish, quota };
      } catch (e) {
        a.dispose();
        quota?.settle({});
        const err = classify(e, a.why);
        // A model with several deployments cools the failed one down and routes to the next.
        finish({ ok: false, err, cool: target.multi });
        observeAttempt(deps, target, (performance.now() - attemptStarted) / 1000, err);
        last = new ChainFailure(err, target);
        if (!err.retryable || a.why.reason === 'deadline') throw last;
        deps.log.warn(
          {
            model: target.model.name,
            connection: target.deployment.connection.name,
            kind: err.kind,
            status: err.status,
            attempt,
          },
          'upstream attempt failed',
        );
        if (err.kind === 'timeout' || target.multi || attempt >= tuning.maxRetries) break;
        const delay = retryDelay(tuning, attempt, err.retryAfterMs);
        if (delay === null || performance.now() + delay >= deadlineAt) break;
        try {
          await tuning.sleep(delay, call.signal);
        } catch {
          throw new ChainFailure(classify(null, { reason: 'client' }), target);
        }
      }
    }
  }
  if (last !== undefined) throw last;
  // Every target's connection is over its quota.
  deps.metrics.rejections.inc({ reason: 'rate_limit' });
  record(deps, call, deps.clock.now(), performance.now(), {
    // biome-ignore lint/style/noNonNullAssertion: the chain is never empty (targets() checks)
    target: chain[0]!,
    status: 'rejected',
    errorCode: 'rate_limit_exceeded',
    usage: zeroUsage,
    usageEstimated: false,
    ttftMs: null,
  });
  throw new DomainError(
    'rate_limit_exceeded',
    // biome-ignore lint/style/noNonNullAssertion: as above
    `model '${chain[0]!.model.name}' is not available: its connections are over their quota`,
    { retryAfter: refused.error?.retryAfter ?? 60 },
  );
}

function failureOutcome(f: ChainFailure, request: unknown): Outcome {
  return {
    target: f.target,
    status: f.error.kind === 'aborted' ? 'aborted' : 'error',
    errorCode: f.error.kind === 'aborted' ? null : domainCodeOf(f.error.kind),
    usage: zeroUsage,
    usageEstimated: false,
    ttftMs: null,
    bodies: { request, response: null },
  };
}

/**
 * What every chat call does before the upstream: the catalog's targets, then the cache (a hit is
 * recorded and answered from it), then admission against budgets and rate limits.
 */
async function beginChat(
  deps: GatewayDeps,
  input: GatewayChatInput,
  call: CallContext,
  tuning: GatewayTuning,
): Promise<
  | { kind: 'hit'; hit: CachedChat; startedAt: Date }
  | ({ kind: 'call'; cacheKey: Buffer | undefined } & Awaited<ReturnType<typeof admitCall>>)
> {
  const allTargets = await targets(
    deps,
    input.model,
    'chat',
    call.principal,
    tuning,
    input.max_tokens,
  );
  const cache = await cacheLookup(deps, call, input);
  if (cache.hit) {
    const startedAt = recordCacheHit(deps, call, allTargets, cache.hit, input);
    return { kind: 'hit', hit: cache.hit, startedAt };
  }
  const admitted = await admitCall(
    deps,
    call,
    allTargets,
    {
      inputTokens: countInputTokens(input.messages),
      maxTokens: input.max_tokens,
      kind: 'chat',
    },
    input,
  );
  return { kind: 'call', cacheKey: cache.key, ...admitted };
}

function unixSeconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

/** A non-streaming chat call through the catalog, retries and fallbacks; recorded either way. */
export async function chatComplete(
  deps: GatewayDeps,
  input: GatewayChatInput,
  call: CallContext,
  tuning: GatewayTuning = defaultTuning,
): Promise<GatewayChatResult> {
  const prepared = await beginChat(deps, input, call, tuning);
  if (prepared.kind === 'hit') {
    const { model, provider, ...answer } = prepared.hit;
    return {
      id: `cache-${call.requestId}`,
      ...answer,
      model,
      provider,
      requestId: call.requestId,
      created: unixSeconds(prepared.startedAt),
      cacheHit: true,
    };
  }
  const { target, value, startedAt } = await callChain(
    deps,
    call,
    prepared,
    tuning,
    input,
    (t, a) =>
      t.deployment.provider.chat({ ...input, model: t.deployment.upstreamModel }, a.options()),
    (value) => ({ usage: value.usage, response: value }),
  );
  if (prepared.cacheKey) {
    deps.responseCache.put(call.principal.userId, prepared.cacheKey, {
      model: target.model.name,
      provider: target.model.provider,
      content: value.content,
      toolCalls: value.toolCalls,
      finishReason: value.finishReason,
      ...(value.stopSequence !== undefined ? { stopSequence: value.stopSequence } : {}),
      usage: value.usage,
    });
  }
  return {
    ...value,
    model: target.model.name,
    provider: target.deployment.connection.providerLabel,
    requestId: call.requestId,
    created: unixSeconds(startedAt),
    cacheHit: false,
  };
}

/**
 * One non-streaming call over an admitted chain: the attempt that answers is recorded `ok` with
 * the usage and response body `outcome` makes of it; a chain that fails is recorded as failed and
 * thrown as its domain error. The admission is settled either way.
 */
async function callChain<T>(
  deps: GatewayDeps,
  call: CallContext,
  admitted: { admission: Admission; chain: Target[]; tokens: number },
  tuning: GatewayTuning,
  request: unknown,
  run: (t: Target, a: AttemptSignal) => Promise<T>,
  outcome: (value: T) => { usage: Usage; response: unknown },
): Promise<{ target: Target; value: T; startedAt: Date }> {
  const { admission } = admitted;
  const startedAt = deps.clock.now();
  const started = performance.now();
  let done: Awaited<ReturnType<typeof runChain<T>>>;
  try {
    done = await runChain(
      deps,
      call,
      admitted.chain,
      tuning,
      started + deps.config.upstreamTimeoutMs,
      admitted.tokens,
      run,
    );
  } catch (e) {
    if (!(e instanceof ChainFailure)) {
      admission.settle({});
      throw e;
    }
    record(deps, call, startedAt, started, { ...failureOutcome(e, request), admission });
    throw toDomainError(e.error);
  }
  const { target, value, attempt, attemptStarted, finish, quota } = done;
  attempt.dispose();
  const ms = performance.now() - attemptStarted;
  finish({ ok: true, ms });
  observeAttempt(deps, target, ms / 1000, null);
  const { usage, response } = outcome(value);
  record(deps, call, startedAt, started, {
    target,
    status: 'ok',
    errorCode: null,
    usage,
    usageEstimated: false,
    ttftMs: null,
    bodies: { request, response },
    admission,
    quota,
  });
  return { target, value, startedAt };
}

/** A cached answer replayed as the events its stream would have had. */
async function* replay(hit: CachedChat): AsyncGenerator<GatewayStreamEvent> {
  if (hit.content) yield { type: 'delta', content: hit.content };
  if (hit.toolCalls.length > 0) {
    yield {
      type: 'delta',
      toolCalls: hit.toolCalls.map((t, index) => ({
        index,
        id: t.id,
        name: t.function.name,
        arguments: t.function.arguments,
      })),
    };
  }
  yield {
    type: 'finish',
    finishReason: hit.finishReason,
    ...(hit.stopSequence !== undefined ? { stopSequence: hit.stopSequence } : {}),
  };
  yield { type: 'usage', usage: hit.usage };
}

/** What a stream produced so far, for billing when it ends early without provider usage. */
function estimateUsage(input: GatewayChatInput, outputChars: string): Usage {
  return {
    ...zeroUsage,
    inputTokens: countInputTokens(input.messages),
    outputTokens: countTextTokens(outputChars),
  };
}

/**
 * A streaming chat call. Resolves once the upstream produced its first event: every failure
 * before that (after retries and fallbacks) throws a DomainError. After it, the stream never
 * fails over; a failure ends it with one `error` event instead of a clean finish.
 */
export async function startChatStream(
  deps: GatewayDeps,
  input: GatewayChatInput,
  call: CallContext,
  tuning: GatewayTuning = defaultTuning,
): Promise<GatewayStream> {
  const prepared = await beginChat(deps, input, call, tuning);
  if (prepared.kind === 'hit') {
    return {
      model: prepared.hit.model,
      provider: prepared.hit.provider,
      requestId: call.requestId,
      created: unixSeconds(prepared.startedAt),
      cacheHit: true,
      events: replay(prepared.hit),
    };
  }
  const { admission, chain, tokens, cacheKey } = prepared;
  const startedAt = deps.clock.now();
  const started = performance.now();
  let chainResult: Awaited<
    ReturnType<
      typeof runChain<{ it: AsyncIterator<StreamEvent>; first: IteratorResult<StreamEvent> }>
    >
  >;
  try {
    chainResult = await runChain(
      deps,
      call,
      chain,
      tuning,
      started + deps.config.upstreamTimeoutMs,
      tokens,
      async (t, a) => {
        a.limit('ttft', deps.config.upstreamTtftTimeoutMs);
        const it = t.deployment.provider
          .chatStream({ ...input, model: t.deployment.upstreamModel }, a.options())
          [Symbol.asyncIterator]();
        try {
          const first = await raceAbort(it.next(), a.signal);
          return { it, first };
        } catch (e) {
          void Promise.resolve(it.return?.()).catch(() => {});
          throw e;
        }
      },
    );
  } catch (e) {
    if (!(e instanceof ChainFailure)) {
      admission.settle({});
      throw e;
    }
    record(deps, call, startedAt, started, { ...failureOutcome(e, input), admission });
    throw toDomainError(e.error);
  }
  const { target, value, attempt: a, attemptStarted, finish, quota } = chainResult;
  const ttftMs = performance.now() - started;
  const upstreamTtftMs = performance.now() - attemptStarted;
  deps.metrics.upstreamTtft.observe(target.deployment.labels.model, upstreamTtftMs / 1000);
  a.limit('idle', deps.config.streamIdleTimeoutMs);

  const { it } = value;
  let text = '';
  let usage: Usage | undefined;
  let finished = false;
  let status: RequestStatus = 'aborted';
  let failure: ProviderError | null = null;
  const toolCalls = new Map<number, { id?: string; name: string; arguments: string }>();
  let finishReason: FinishReason | null = null;
  let stopSequence: string | undefined;
  let begun = false;
  let settled = false;

  /** What the stream has produced so far: billed, logged and cached when it ends. */
  function take(ev: StreamEvent): void {
    if (ev.type === 'delta') {
      if (ev.content) text += ev.content;
      for (const tc of ev.toolCalls ?? []) {
        const cur = toolCalls.get(tc.index) ?? { name: '', arguments: '' };
        if (tc.id) cur.id = tc.id;
        if (tc.name) cur.name += tc.name;
        if (tc.arguments) cur.arguments += tc.arguments;
        toolCalls.set(tc.index, cur);
      }
    } else if (ev.type === 'finish') {
      finished = true;
      finishReason = ev.finishReason;
      stopSequence = ev.stopSequence;
    } else if (ev.type === 'usage') {
      usage = ev.usage;
    }
  }

  async function* events(): AsyncGenerator<GatewayStreamEvent> {
    begun = true;
    if (settled) return; // the client left before reading: already recorded as aborted
    let r = value.first;
    try {
      while (!r.done) {
        const ev = r.value;
        take(ev);
        yield ev;
        a.limit('idle', deps.config.streamIdleTimeoutMs);
        try {
          r = await raceAbort(it.next(), a.signal);
        } catch (e) {
          const err = classify(e, a.why);
          if (err.kind === 'aborted') return; // the client left: nobody to tell
          failure = err;
          status = 'error';
          yield {
            type: 'error',
            code: domainCodeOf(err.kind),
            message: toDomainError(err).message,
          };
          return;
        }
      }
      status = 'ok';
    } finally {
      settle();
    }
  }

  /**
   * Once per stream, however it ends: the upstream closed unless it finished, routing and metrics
   * told, the cache filled, the reservation settled and the request-log row written.
   */
  function settle(): void {
    if (settled) return;
    settled = true;
    call.signal.removeEventListener('abort', leftBeforeReading);
    // A consumer that stopped after finish + usage got everything: that is a success.
    if (status === 'aborted' && finished && usage) status = 'ok';
    a.dispose();
    // The stream was in flight until now; its latency for routing is its time to first token.
    if (failure) finish({ ok: false, err: failure, cool: target.multi });
    else finish({ ok: true, ms: upstreamTtftMs });
    if (status !== 'ok') {
      a.abort();
      void Promise.resolve(it.return?.()).catch(() => {});
    }
    observeAttempt(
      deps,
      target,
      (performance.now() - attemptStarted) / 1000,
      status === 'ok' ? null : (failure ?? classify(null, { reason: 'client' })),
    );
    const toolText = [...toolCalls.values()].map((t) => t.name + t.arguments).join('');
    const finalUsage = usage ?? estimateUsage(input, text + toolText);
    if (status === 'ok' && cacheKey && finishReason !== null) {
      deps.responseCache.put(call.principal.userId, cacheKey, {
        model: target.model.name,
        provider: target.model.provider,
        content: text.length > 0 || toolCalls.size === 0 ? text : null,
        toolCalls: [...toolCalls.values()].map(
          (t, i): ToolCall => ({
            id: t.id ?? `call_${i}`,
            type: 'function',
            function: { name: t.name, arguments: t.arguments },
          }),
        ),
        finishReason,
        ...(stopSequence !== undefined ? { stopSequence } : {}),
        usage: finalUsage,
      });
    }
    record(deps, call, startedAt, started, {
      target,
      status,
      errorCode: failure ? domainCodeOf(failure.kind) : null,
      usage: finalUsage,
      usageEstimated: usage === undefined,
      admission,
      quota,
      ttftMs,
      bodies: {
        request: input,
        response: {
          content: text,
          toolCalls: [...toolCalls.values()],
          finishReason,
          // As the non-stream row's body (the provider's ChatResponse) carries it.
          ...(stopSequence !== undefined ? { stopSequence } : {}),
          ...(failure ? { error: failure.kind } : {}),
        },
      },
    });
  }

  // A client that hangs up before the consumer reads the first event (e.g. while the stream's
  // headers are written) leaves the generator unstarted, and an unstarted generator's `finally`
  // never runs: without this the call would hold its reservation and upstream connection and
  // write no request-log row. It is billed as aborted with what the upstream had produced.
  function leftBeforeReading(): void {
    if (begun) return;
    if (!value.first.done) take(value.first.value); // produced upstream, so billed
    settle();
  }
  if (call.signal.aborted) leftBeforeReading();
  else call.signal.addEventListener('abort', leftBeforeReading, { once: true });

  return {
    model: target.model.name,
    provider: target.deployment.connection.providerLabel,
    requestId: call.requestId,
    created: unixSeconds(startedAt),
    cacheHit: false,
    events: events(),
  };
}

/** Embeddings through the catalog, retries and fallbacks; recorded either way. */
export async function createEmbeddings(
  deps: GatewayDeps,
  input: GatewayEmbeddingInput,
  call: CallContext,
  tuning: GatewayTuning = defaultTuning,
): Promise<GatewayEmbeddingResult> {
  const allTargets = await targets(deps, input.model, 'embedding', call.principal, tuning);
  const texts = typeof input.input === 'string' ? [input.input] : input.input;
  // Vectors are large and derivable: the log keeps the request and the response's shape only.
  const requestBody = { model: input.model, input: texts, dimensions: input.dimensions };
  let inputTokens = 0;
  for (const t of texts) inputTokens += countTextTokens(t);
  const admitted = await admitCall(
    deps,
    call,
    allTargets,
    { inputTokens, maxTokens: undefined, kind: 'embedding' },
    requestBody,
  );
  const { target, value } = await callChain(
    deps,
    call,
    admitted,
    tuning,
    requestBody,
    (t, a) =>
      t.deployment.provider.embed(
        {
          model: t.deployment.upstreamModel,
          input: texts,
          ...(input.dimensions !== undefined ? { dimensions: input.dimensions } : {}),
        },
        a.options(),
      ),
    (value) => ({
      usage: { ...zeroUsage, inputTokens: value.usage.inputTokens },
      response: { count: value.vectors.length, dimensions: value.vectors[0]?.length ?? 0 },
    }),
  );
  return {
    model: target.model.name,
    provider: target.deployment.connection.providerLabel,
    requestId: call.requestId,
    vectors: value.vectors,
    usage: value.usage,
  };
}
