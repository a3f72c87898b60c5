import { createHmac, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { UserPrincipal } from '../auth/principal.ts';
import { seal, unseal } from '../crypto/sealed-box.ts';
import type { Deps } from '../deps.ts';
import { DomainError } from '../errors.ts';
import { trimDecimal } from '../models/models.service.ts';
import {
  type AllowList,
  checkUrl,
  guardedRequest,
  parseAllowList,
  type Resolver,
  SsrfError,
} from '../net/ssrf-guard.ts';

const WEBHOOK_SECRETS = { info: 'webhook-secret-encryption/v1', what: 'webhook secret' };

/** A new webhook signing secret for the caller, returned once; the old one stops signing. */
export async function rotateWebhookSecret(
  deps: Pick<Deps, 'db' | 'config'>,
  principal: UserPrincipal,
): Promise<{ secret: string }> {
  const secret = `whsec_${randomBytes(32).toString('base64url')}`;
  const sealed = seal(deps.config.secret, WEBHOOK_SECRETS, principal.userId, secret);
  await deps.db
    .insertInto('webhook_secrets')
    .values({ user_id: principal.userId, secret_enc: sealed })
    .onConflict((oc) =>
      oc.column('user_id').doUpdateSet({ secret_enc: sealed, created_at: sql`now()` }),
    )
    .execute();
  return { secret };
}

async function webhookSecretOf(
  deps: Pick<Deps, 'db' | 'config'>,
  userId: string,
): Promise<string | null> {
  const row = await deps.db
    .selectFrom('webhook_secrets')
    .select('secret_enc')
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row ? unseal(deps.config.secret, WEBHOOK_SECRETS, userId, row.secret_enc) : null;
}

/** `Tollgate-Signature`: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signWebhook(secret: string, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

const allowLists = new WeakMap<readonly string[], AllowList>();
/** WEBHOOK_ALLOW_HOSTS, parsed once per config. */
export function webhookAllowList(deps: Pick<Deps, 'config'>): AllowList {
  const entries = deps.config.webhookAllowHosts;
  let list = allowLists.get(entries);
  if (!list) {
    list = parseAllowList(entries);
    allowLists.set(entries, list);
  }
  return list;
}

/**
 * Checks a batch's webhookUrl at submit: the SSRF guard, and a signing secret to sign with.
 * Refusals are 400s naming `webhookUrl`.
 */
export async function checkWebhookUrl(
  deps: Pick<Deps, 'db' | 'config'>,
  principal: UserPrincipal,
  url: string,
  resolve?: Resolver,
): Promise<void> {
  try {
    await checkUrl(url, { allow: webhookAllowList(deps), ...(resolve ? { resolve } : {}) });
  } catch (e) {
    if (!(e instanceof SsrfError)) throw e;
    throw new DomainError('bad_request', `webhookUrl refused: ${e.message}`, {
      param: 'webhookUrl',
    });
  }
  const has = await deps.db
    .selectFrom('webhook_secrets')
    .select('user_id')
    .where('user_id', '=', principal.userId)
    .executeTakeFirst();
  if (!has) {
    throw new DomainError(
      'bad_request',
      'webhookUrl needs a webhook signing secret first: POST /api/webhooks/secret (webhooks.rotateSecret)',
      { param: 'webhookUrl' },
    );
  }
}

export type DeliveryOptions = { resolve?: Resolver; timeoutMs?: number; maxBytes?: number };

/**
 * Sends a finished batch's webhook once and records the attempt; throws when it did not land
 * (refused by the guard, network error, non-2xx) so the job is retried with backoff.
 */
export async function deliverBatchWebhook(
  deps: Pick<Deps, 'db' | 'config' | 'clock'>,
  batchId: string,
  attempt: number,
  opts: DeliveryOptions = {},
): Promise<{ ok: boolean; status: number | null }> {
  const b = await deps.db
    .selectFrom('batches')
    .selectAll()
    .where('id', '=', batchId)
    .executeTakeFirst();
  if (!b?.webhook_url || !b.finished_at) return { ok: true, status: null };
  const counts = { total: b.total, pending: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
  const rows = await deps.db
    .selectFrom('batch_items')
    .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
    .where('batch_id', '=', batchId)
    .groupBy('status')
    .execute();
  for (const r of rows) counts[r.status] = Number(r.n);
  const body = JSON.stringify({
    type: 'batch.finished',
    batchId: b.id,
    status: b.status,
    counts,
    costUsd: trimDecimal(b.cost_usd),
    finishedAt: b.finished_at.toISOString(),
  });
  const secret = await webhookSecretOf(deps, b.user_id);
  const t = Math.floor(deps.clock.now().getTime() / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'Tollgate-Webhook/1',
  };
  if (secret) headers['tollgate-signature'] = signWebhook(secret, t, body);
  const started = performance.now();
  let status: number | null = null;
  let error: string | null = null;
  try {
    const res = await guardedRequest(b.webhook_url, {
      method: 'POST',
      headers,
      body,
      allow: webhookAllowList(deps),
      ...(opts.resolve ? { resolve: opts.resolve } : {}),
      timeoutMs: opts.timeoutMs ?? 10_000,
      maxBytes: opts.maxBytes ?? 64 * 1024,
    });
    status = res.status;
    if (status < 200 || status >= 300) error = `receiver answered ${status}`;
  } catch (e) {
    error = e instanceof SsrfError ? `refused: ${e.message}` : String((e as Error).message ?? e);
  }
  const ok = error === null;
  await deps.db
    .insertInto('webhook_deliveries')
    .values({
      batch_id: batchId,
      attempt,
      url: b.webhook_url,
      status_code: status,
      ok,
      error,
      duration_ms: Math.round(performance.now() - started),
    })
    .execute();
  if (!ok) throw new Error(`webhook delivery failed: ${error}`);
  return { ok, status };
}
