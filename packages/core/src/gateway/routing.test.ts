import type { ProviderError } from '@tollgate/providers';
import { createMockProvider } from '@tollgate/providers';
import { describe, expect, it } from 'vitest';
import type { LiveConnection } from '../connections/connection-registry.ts';
import type { CatalogModel } from '../models/models.service.ts';
import { connectionLimitChecks } from '../spend/checks.ts';
import {
  beginAttempt,
  DEFAULT_COOLDOWN_MS,
  deploymentsOf,
  orderDeployments,
  routingState,
} from './routing.ts';

const provider = createMockProvider();
const conn = (name: string, limits: Partial<LiveConnection> = {}): LiveConnection => ({
  id: null,
  name,
  providerLabel: 'openai-compatible',
  provider,
  rpmLimit: null,
  tpmLimit: null,
  ...limits,
});

function catalogModel(routing: CatalogModel['routing'], names: string[]): CatalogModel {
  return {
    name: `m-${routing}-${names.join('')}`,
    provider: names[0] as string,
    upstreamModel: 'x',
    kind: 'chat',
    inputPricePerMTok: '1',
    outputPricePerMTok: '2',
    cachedInputPricePerMTok: null,
    cacheWritePricePerMTok: null,
    contextWindow: null,
    maxOutputTokens: null,
    enabled: true,
    aliases: [],
    fallbacks: [],
    deployments: names.map((n) => ({
      provider: n,
      upstreamModel: `up-${n}`,
      weight: 1,
      inputPricePerMTok: null,
      outputPricePerMTok: null,
    })),
    routing,
    createdAt: new Date(),
    updatedAt: new Date(),
  };
}

const err = (kind: ProviderError['kind'], retryAfterMs?: number) =>
  ({ kind, retryAfterMs }) as ProviderError;

describe('routing', () => {
  it('least-in-flight puts the deployment with fewer calls running first', () => {
    const s = routingState({} as never);
    const conns = new Map([
      ['a', conn('a')],
      ['b', conn('b')],
    ]);
    const m = catalogModel('least-in-flight', ['a', 'b']);
    const [a] = deploymentsOf(s, m, conns);
    const end1 = beginAttempt(s, a as never);
    beginAttempt(s, a as never);
    const order = orderDeployments(s, m, deploymentsOf(s, m, conns), () => 0.99);
    expect(order.healthy.map((d) => d.connection.name)).toEqual(['b', 'a']);
    end1({ ok: true, ms: 1 });
  });

  it('lowest-latency prefers the faster measured deployment', () => {
    const s = routingState({} as never);
    const conns = new Map([
      ['a', conn('a')],
      ['b', conn('b')],
    ]);
    const m = catalogModel('lowest-latency', ['a', 'b']);
    const [a, b] = deploymentsOf(s, m, conns);
    beginAttempt(s, a as never)({ ok: true, ms: 300 });
    beginAttempt(s, b as never)({ ok: true, ms: 20 });
    const order = orderDeployments(s, m, deploymentsOf(s, m, conns), Math.random);
    expect(order.healthy.map((d) => d.connection.name)).toEqual(['b', 'a']);
  });

  it('a failure cools down only when asked, for retry-after or the default, and never on a 400', () => {
    const s = routingState({} as never);
    const conns = new Map([
      ['a', conn('a')],
      ['b', conn('b')],
      ['c', conn('c')],
    ]);
    const m = catalogModel('weighted', ['a', 'b', 'c']);
    const [a, b, c] = deploymentsOf(s, m, conns);
    beginAttempt(s, a as never)({ ok: false, err: err('rate_limited', 60_000), cool: true });
    beginAttempt(s, b as never)({ ok: false, err: err('bad_request'), cool: true });
    beginAttempt(s, c as never)({ ok: false, err: err('server'), cool: false });
    const order = orderDeployments(s, m, deploymentsOf(s, m, conns), Math.random);
    expect(order.healthy.map((d) => d.connection.name).sort()).toEqual(['b', 'c']);
    expect(order.cooled.map((d) => d.connection.name)).toEqual(['a']);
    const until = s.deployments.get((a as { key: string }).key)?.cooledUntil ?? 0;
    expect(until - performance.now()).toBeGreaterThan(DEFAULT_COOLDOWN_MS);
  });

  it("a connection's quota is a shared limit on its id; none means no limiter call", () => {
    expect(connectionLimitChecks(conn('a'), 100)).toEqual([]);
    // The built-in connections (no id) have no quota.
    expect(connectionLimitChecks(conn('a', { rpmLimit: 5 }), 100)).toEqual([]);
    const subject = { kind: 'connection', id: 'c1' };
    expect(connectionLimitChecks(conn('a', { id: 'c1', rpmLimit: 5, tpmLimit: 900 }), 120)).toEqual(
      [
        { subject, metric: 'requests', period: 'minute', cap: 5, amount: 1 },
        { subject, metric: 'tokens', period: 'minute', cap: 900, amount: 120 },
      ],
    );
    expect(connectionLimitChecks(conn('a', { id: 'c1', tpmLimit: 900 }), 7)).toEqual([
      { subject, metric: 'tokens', period: 'minute', cap: 900, amount: 7 },
    ]);
    // Routing itself no longer filters on quota: the gateway admits each attempt.
    const s = routingState({} as never);
    const conns = new Map([
      ['a', conn('a', { id: 'c1', rpmLimit: 1 })],
      ['b', conn('b')],
    ]);
    const m = catalogModel('weighted', ['a', 'b']);
    const order = orderDeployments(s, m, deploymentsOf(s, m, conns), Math.random);
    expect(order.healthy.map((d) => d.connection.name).sort()).toEqual(['a', 'b']);
  });
});
