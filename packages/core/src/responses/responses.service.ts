import type { UserPrincipal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';
import { retentionCutoff } from '../retention/stored-objects.ts';
import * as repo from './responses.repository.ts';

type StoreDeps = Pick<Deps, 'db' | 'clock' | 'config'>;

/** A stored OpenAI Response: the conversation it saw, its output items and the object returned. */
export type StoredResponse = {
  id: string;
  model: string;
  input: unknown[];
  output: unknown[];
  body: Record<string, unknown>;
};

/** Keeps a Response for GET and for `previous_response_id`; owned by the caller. */
export async function storeResponse(
  deps: StoreDeps,
  who: UserPrincipal,
  r: StoredResponse,
): Promise<void> {
  await repo.insertResponse(deps.db, { ...r, userId: who.userId });
}

/**
 * The caller's stored Response; someone else's id is `not_found`, exactly as a missing one, and
 * so is one past RESPONSES_RETENTION_DAYS (even before the purge job has deleted it).
 */
export async function getStoredResponse(
  deps: StoreDeps,
  who: UserPrincipal,
  id: string,
  param?: string,
): Promise<StoredResponse> {
  const row = await repo.findResponse(
    deps.db,
    who.userId,
    id,
    retentionCutoff(deps, deps.config.responsesRetentionDays),
  );
  if (!row)
    throw new DomainError('not_found', `response '${id}' not found`, param ? { param } : {});
  return { id: row.id, model: row.model, input: row.input, output: row.output, body: row.body };
}

/** Deletes the caller's stored Response; someone else's id is `not_found`. */
export async function deleteStoredResponse(
  deps: StoreDeps,
  who: UserPrincipal,
  id: string,
): Promise<void> {
  if (!(await repo.deleteResponse(deps.db, who.userId, id)))
    throw new DomainError('not_found', `response '${id}' not found`);
}
