import type { DB } from '@tollgate/db';
import type { Provider, ProviderError } from '@tollgate/providers';
import type { Kysely } from 'kysely';
import type { LiveConnection } from '../connections/connection-registry.ts';
import type { CatalogModel } from '../models/models.service.ts';

/**
 * Target selection for the gateway (issue #16): a catalog model routes to one or more deployments
 * (connection + upstream model + weight). Healthy deployments are ordered by the model's strategy;
 * cooled-down ones (after a 429/5xx/connection failure/timeout, for the upstream's retry-after or
 * DEFAULT_COOLDOWN_MS) come after the fallback chain. Routing state lives in this process only (per
 * database, so test files never share it); a connection's RPM/TPM quota is not routing state but a
 * shared limit (spend/checks.ts connectionLimitChecks), admitted per attempt by the gateway.
 */

export type Deployment = {
  /** Unique within the process: model, connection and upstream model. */
  key: string;
  connection: LiveConnection;
  provider: Provider;
  upstreamModel: string;
  weight: number;
  /** Effective prices: the deployment's override, else the model's. */
  prices: {
    input: string | null;
    output: string | null;
    cachedInput: string | null;
    cacheWrite: string | null;
  };
  /** Label objects built once per deployment, not per call. */
  labels: {
    model: { provider: string; model: string; connection: string };
    input: { provider: string; model: string; connection: string; direction: 'input' };
    output: { provider: string; model: string; connection: string; direction: 'output' };
  };
};

export type Target = {
  model: CatalogModel;
  deployment: Deployment;
  /**
   * The model has several deployments: a failed one is cooled down and the next one tried instead
   * of retrying it (a single-deployment model keeps retry-with-backoff, then its fallbacks).
   */
  multi: boolean;
};

/** A failed deployment's rest when the upstream names none (retry-after wins when it does). */
export const DEFAULT_COOLDOWN_MS = 10_000;
/** Longest cooldown honoured from a retry-after. */
export const MAX_COOLDOWN_MS = 5 * 60_000;
const LATENCY_EWMA = 0.3;

type DeploymentState = { cooledUntil: number; inFlight: number; latencyMs: number | null };
type RoutingState = {
  deployments: Map<string, DeploymentState>;
  /** Deployments per catalog entry, rebuilt when the catalog or the connections reload. */
  built: WeakMap<CatalogModel, { connections: Map<string, LiveConnection>; list: Deployment[] }>;
};

const states = new WeakMap<Kysely<DB>, RoutingState>();

export function routingState(db: Kysely<DB>): RoutingState {
  let s = states.get(db);
  if (!s) {
    s = { deployments: new Map(), built: new WeakMap() };
    states.set(db, s);
  }
  return s;
}

function stateOf(s: RoutingState, key: string): DeploymentState {
  let d = s.deployments.get(key);
  if (!d) {
    d = { cooledUntil: 0, inFlight: 0, latencyMs: null };
    s.deployments.set(key, d);
  }
  return d;
}

/** The model's deployments on connections this process has (a legacy entry has one). */
export function deploymentsOf(
  s: RoutingState,
  m: CatalogModel,
  connections: Map<string, LiveConnection>,
): Deployment[] {
  const hit = s.built.get(m);
  if (hit?.connections === connections) return hit.list;
  const specs =
    m.deployments.length > 0
      ? m.deployments
      : [
          {
            provider: m.provider,
            upstreamModel: m.upstreamModel,
            weight: 1,
            inputPricePerMTok: null,
            outputPricePerMTok: null,
          },
        ];
  const list: Deployment[] = [];
  for (const d of specs) {
    const connection = connections.get(d.provider);
    if (!connection || d.weight <= 0) continue;
    const model = {
      provider: connection.providerLabel,
      model: m.name,
      connection: connection.name,
    };
    list.push({
      key: `${m.name}\0${connection.name}\0${d.upstreamModel}`,
      connection,
      provider: connection.provider,
      upstreamModel: d.upstreamModel,
      weight: d.weight,
      prices: {
        input: d.inputPricePerMTok ?? m.inputPricePerMTok,
        output: d.outputPricePerMTok ?? m.outputPricePerMTok,
        cachedInput: m.cachedInputPricePerMTok,
        cacheWrite: m.cacheWritePricePerMTok,
      },
      labels: {
        model,
        input: { ...model, direction: 'input' },
        output: { ...model, direction: 'output' },
      },
    });
  }
  s.built.set(m, { connections, list });
  return list;
}

/**
 * Weighted random order without replacement: each place is drawn among the deployments left, in
 * proportion to their weights. Plain loops, no sort or wrapper objects: this runs on every call.
 */
function weightedOrder(list: Deployment[], random: () => number): Deployment[] {
  if (list.length <= 1) return list;
  const left = list.slice();
  let total = 0;
  for (const d of left) total += d.weight;
  const out: Deployment[] = [];
  while (left.length > 1) {
    let r = random() * total;
    let i = 0;
    for (; i < left.length - 1; i++) {
      r -= (left[i] as Deployment).weight;
      if (r < 0) break;
    }
    const [d] = left.splice(i, 1) as [Deployment];
    total -= d.weight;
    out.push(d);
  }
  out.push(left[0] as Deployment);
  return out;
}

/**
 * The model's deployments in the order to try: healthy ones by strategy, then (as `cooled`) the
 * cooled-down ones, which the caller tries only after the fallback chain.
 */
export function orderDeployments(
  s: RoutingState,
  m: CatalogModel,
  all: Deployment[],
  random: () => number,
): { healthy: Deployment[]; cooled: Deployment[] } {
  const now = performance.now();
  const healthy: Deployment[] = [];
  const cooled: Deployment[] = [];
  for (const d of all) {
    const st = s.deployments.get(d.key);
    if (st && st.cooledUntil > now) cooled.push(d);
    else healthy.push(d);
  }
  let ordered = weightedOrder(healthy, random);
  if (m.routing === 'least-in-flight') {
    const inFlight = (d: Deployment) => s.deployments.get(d.key)?.inFlight ?? 0;
    ordered = ordered.sort((a, b) => inFlight(a) - inFlight(b)); // stable: ties stay weighted
  } else if (m.routing === 'lowest-latency') {
    // Unmeasured deployments first, so each gets measured.
    const latency = (d: Deployment) => s.deployments.get(d.key)?.latencyMs ?? -1;
    ordered = ordered.sort((a, b) => latency(a) - latency(b));
  }
  return {
    healthy: ordered,
    cooled: cooled.sort((a, b) => cooledUntil(s, a) - cooledUntil(s, b)),
  };
}

const cooledUntil = (s: RoutingState, d: Deployment) => s.deployments.get(d.key)?.cooledUntil ?? 0;

const COOLING_KINDS = new Set(['rate_limited', 'server', 'connection', 'timeout']);

/**
 * Starts one attempt on a deployment: counts it in flight (its connection's quota is admitted by
 * the caller through the shared limiter). The
 * returned function ends it: a success feeds the latency average, a 429/5xx/connection failure or
 * timeout cools the deployment down when `cool` (the model has another deployment to route to).
 */
export function beginAttempt(
  s: RoutingState,
  d: Deployment,
): (result: { ok: true; ms: number } | { ok: false; err: ProviderError; cool: boolean }) => void {
  const st = stateOf(s, d.key);
  st.inFlight++;
  let ended = false;
  return (r) => {
    if (ended) return;
    ended = true;
    st.inFlight--;
    if (r.ok) {
      st.latencyMs =
        st.latencyMs === null ? r.ms : st.latencyMs + LATENCY_EWMA * (r.ms - st.latencyMs);
    } else if (r.cool && COOLING_KINDS.has(r.err.kind)) {
      const ms = Math.min(MAX_COOLDOWN_MS, r.err.retryAfterMs ?? DEFAULT_COOLDOWN_MS);
      st.cooledUntil = Math.max(st.cooledUntil, performance.now() + ms);
    }
  };
}
