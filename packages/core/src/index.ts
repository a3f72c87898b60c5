export type { AuditEntry, AuditFilters, AuditStamp } from './audit/audit.service.ts';
export { listAudit, purgeAuditLog, recordAudit, withoutSecrets } from './audit/audit.service.ts';
export type { VerifiedAccess } from './auth/access-tokens.ts';
export { JWT_AUDIENCE, JWT_ISSUER, JWT_TYP, signAccessToken } from './auth/access-tokens.ts';
export type { TokenPair } from './auth/auth.service.ts';
export { login, logout, me, purgeAuthTokens, refresh } from './auth/auth.service.ts';
export type { AuthEvent, AuthRuntime, CachedTeam } from './auth/auth-runtime.ts';
export { AUTH_CHANNEL, createAuthRuntime } from './auth/auth-runtime.ts';
export type { AuthHeaders } from './auth/authenticate.ts';
export { authenticate, credentialFrom } from './auth/authenticate.ts';
export type { FirstAdmin } from './auth/bootstrap.service.ts';
export { bootstrapFirstAdmin } from './auth/bootstrap.service.ts';
export type { InvalidReason, KeyScope, Principal, UserPrincipal } from './auth/principal.ts';
export {
  defaultScopes,
  hasScope,
  invalidReasonMessages,
  keyScopes,
  scopesOfRole,
} from './auth/principal.ts';
export {
  ACCESS_TOKEN_TTL_SECONDS,
  ensureSigningKey,
  publicJwks,
  rotateSigningKey,
} from './auth/signing-keys.ts';
export type { BatchChunk, BatchRunOptions, ChunkOutcome } from './batches/batch-runner.ts';
export { MAX_ITEM_ATTEMPTS, processBatchChunk, retryLaterCodes } from './batches/batch-runner.ts';
// Background work (issue #11): batches, webhooks, the SSRF guard.
export type {
  BatchCounts,
  BatchDetail,
  BatchItemInput,
  BatchResultLine,
  BatchView,
  SubmitOptions,
  WebhookAttempt,
} from './batches/batches.service.ts';
export {
  BATCH_CHUNK_SIZE,
  cancelBatch,
  getBatch,
  listBatches,
  MAX_BATCH_ITEMS,
  purgeIdempotencyKeys,
  readResults,
  streamResults,
  submitBatch,
} from './batches/batches.service.ts';
export type {
  ConnectionInput,
  ConnectionPatch,
  ConnectionView,
} from './connections/connections.service.ts';
export {
  createConnection,
  deleteConnection,
  listConnections,
  updateConnection,
} from './connections/connections.service.ts';
export { createDeps } from './create-deps.ts';
export type { Clock, Deps } from './deps.ts';
export { systemClock } from './deps.ts';
export type { DomainErrorCode } from './errors.ts';
export { asDomainError, DomainError, domainErrorCodes } from './errors.ts';
export type { FileView } from './files/files.service.ts';
export {
  createFile,
  deleteFile,
  getFile,
  getFileContent,
  listFiles,
  newFileId,
} from './files/files.service.ts';
export { toChatResult } from './gateway/chat-result.ts';
// Protocol completeness (#17): count_tokens, stored Responses, Files.
export type { TokenCount } from './gateway/count-tokens.ts';
export { countTokens } from './gateway/count-tokens.ts';
export {
  chatComplete,
  createEmbeddings,
  startChatStream,
} from './gateway/gateway.service.ts';
export type * from './gateway/gateway.types.ts';
export type { GatewayTuning } from './gateway/upstream-call.ts';
export { defaultTuning as defaultGatewayTuning } from './gateway/upstream-call.ts';
export type { JobName, JobPayload } from './jobs/payloads.ts';
export { enqueue, jobPayloads } from './jobs/payloads.ts';
export type { KeySettings, KeyView } from './keys/api-keys.service.ts';
export { createKey, listKeys, revokeKey, updateKey } from './keys/api-keys.service.ts';
export { anthropicModels, mockModels, openaiModels, seedModels } from './models/models.seed.ts';
export type {
  CatalogModel,
  DeploymentInput,
  ModelInput,
  ModelKind,
  ModelPage,
} from './models/models.service.ts';
export {
  CATALOG_TTL_MS,
  deleteModel,
  getCatalog,
  invalidateCatalog,
  listModels,
  resolveModel,
  upsertModel,
} from './models/models.service.ts';
export type {
  AllowList,
  CheckedUrl,
  GuardedResponse,
  ResolvedAddress,
  Resolver,
} from './net/ssrf-guard.ts';
export {
  checkUrl,
  guardedRequest,
  parseAllowList,
  pinnedLookup,
  refusedRange,
  SsrfError,
  systemResolver,
} from './net/ssrf-guard.ts';
export type { Page, PageInput } from './pagination.ts';
export type {
  ModelPrices,
  RequestLogEntry,
  RequestLogWriter,
  RequestLogWriterOptions,
  RequestStatus,
} from './requests/request-log.writer.ts';
export { createRequestLogWriter, ensurePartitions } from './requests/request-log.writer.ts';
export type {
  RequestFilters,
  RequestLogDetail,
  RequestLogRow,
} from './requests/requests.service.ts';
export {
  claimRequestId,
  getRequest,
  listRequests,
  maintainRequestLog,
} from './requests/requests.service.ts';
export type { StoredResponse } from './responses/responses.service.ts';
export {
  deleteStoredResponse,
  getStoredResponse,
  storeResponse,
} from './responses/responses.service.ts';
export type { StoredObjectsPurge } from './retention/stored-objects.ts';
export { expiresAt, purgeStoredObjects, retentionCutoff } from './retention/stored-objects.ts';
// Spend and limits (#12): budgets, the shared limiter, the response cache, usage analytics.
export type { BudgetInput, BudgetView } from './spend/budgets.service.ts';
export { listBudgets, setBudget } from './spend/budgets.service.ts';
export { callLimitChecks } from './spend/checks.ts';
export type {
  Admission,
  LimitCheck,
  Limiter,
  LimiterOptions,
  LimitMetric,
  LimitPeriod,
  LimitSubject,
  LimitSubjectKind,
  LimitUsage,
} from './spend/limiter.ts';
export { createLimiter, formatReset, LEASE_TTL_MS } from './spend/limiter.ts';
export type { CachedChat, ResponseCache } from './spend/response-cache.ts';
export { chatCacheKey, createResponseCache } from './spend/response-cache.ts';
export type {
  UsageGroup,
  UsageGroupBy,
  UsageQuery,
  UsageSummary,
  UsageTotals,
} from './spend/usage.service.ts';
export {
  purgeSpendState,
  rollupUsage,
  usageCsv,
  usageCsvColumns,
  usageRollupLagMs,
  usageSummary,
} from './spend/usage.service.ts';
export {
  DEAD_WORKER_SECONDS,
  HEARTBEAT_INTERVAL_MS,
  recordHeartbeat,
  removeHeartbeat,
  unlockDeadWorkers,
} from './system/heartbeat.service.ts';
export type { Readiness } from './system/system.service.ts';
export { checkReadiness, getSystemInfo, HEARTBEAT_STALE_SECONDS } from './system/system.service.ts';
export { checkModelAllowed, modelAccess, teamOf, teamState } from './teams/team-access.ts';
export type { TeamMemberView, TeamRole, TeamSettings, TeamView } from './teams/teams.service.ts';
export {
  addTeamMember,
  createTeam,
  deleteTeam,
  listTeams,
  removeTeamMember,
  updateTeam,
} from './teams/teams.service.ts';
export type { UserView } from './users/users.service.ts';
export { createUser, listUsers, updateUser } from './users/users.service.ts';
export type { DeliveryOptions } from './webhooks/webhooks.service.ts';
export {
  checkWebhookUrl,
  deliverBatchWebhook,
  rotateWebhookSecret,
  signWebhook,
} from './webhooks/webhooks.service.ts';
