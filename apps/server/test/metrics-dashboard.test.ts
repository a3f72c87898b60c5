import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestServer, startTestServer, type TestServer } from './helpers.ts';
import { exposedNames, metricTypes } from './metrics-text.ts';

const deploy = (p: string) => new URL(`../../../deploy/${p}`, import.meta.url);

type Panel = { title?: string; targets?: Array<{ expr?: string }>; panels?: Panel[] };

function exprsOf(panels: readonly Panel[]): Array<{ title: string; expr: string }> {
  return panels.flatMap((p) => [
    ...(p.targets ?? []).flatMap((t) => (t.expr ? [{ title: p.title ?? '', expr: t.expr }] : [])),
    ...exprsOf(p.panels ?? []),
  ]);
}

const PROMQL_WORDS = new Set([
  // aggregations, functions and keywords this dashboard may use
  ...['sum', 'min', 'max', 'avg', 'count', 'topk', 'bottomk', 'quantile', 'stddev', 'group'],
  ...['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or'],
  ...['unless', 'offset', 'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv'],
  ...['histogram_quantile', 'clamp_min', 'clamp_max', 'abs', 'ceil', 'floor', 'round'],
  ...['sum_over_time', 'avg_over_time', 'max_over_time', 'min_over_time', 'label_replace'],
  ...['time', 'vector', 'scalar', 'absent', 'inf', 'nan'],
]);

/** The metric names a PromQL expression reads (selectors, not labels, functions or ranges). */
function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ') // label values, regexes
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges ([5m], [$__rate_interval])
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // groupings
    .replace(/\$\w+/g, ' ')
    .replace(/(?<![A-Za-z0-9_:])\d+(\.\d+)?(e[+-]?\d+)?(ms|[smhdwy])?/gi, ' '); // 0.95, 1e-9, 1h
  const names = stripped.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return names.filter((n) => !PROMQL_WORDS.has(n.toLowerCase()) && !/^\d/.test(n));
}

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => closeTestServer(s));

describe('deploy/grafana dashboard', () => {
  const dashboard = JSON.parse(
    readFileSync(deploy('grafana/dashboards/tollgate.json'), 'utf8'),
  ) as {
    uid: string;
    panels: Panel[];
  };
  const exprs = exprsOf(dashboard.panels);

  it('parses and has the panels an operator needs', () => {
    expect(dashboard.uid).toBe('tollgate-overview');
    const titles = dashboard.panels.map((p) => p.title ?? '').join('\n');
    for (const t of [
      /Request rate/,
      /p50 \/ p95 \/ p99/,
      /Error rate/,
      /first token/,
      /Tokens/,
      /Cost/,
      /Rejections/,
      /Queue depth/,
      /Job failures/,
    ]) {
      expect(titles).toMatch(t);
    }
    expect(exprs.length).toBeGreaterThan(20);
  });

  it('reads only metric names a running server exposes', async () => {
    const res = await s.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    const exposed = exposedNames(res.body);
    const used = new Set(exprs.flatMap((e) => metricNamesIn(e.expr)));
    expect(used.size).toBeGreaterThan(10);
    const missing = [...used].filter((n) => !exposed.has(n));
    expect(missing).toEqual([]);
    // …and every Tollgate metric family shows up somewhere on the dashboard.
    const families = [...metricTypes(res.body).keys()].filter((n) => n.startsWith('tollgate_'));
    const usedFamilies = new Set([...used].map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    expect(families.filter((f) => !usedFamilies.has(f))).toEqual([]);
  });

  it('extracts metric names from PromQL, not labels or functions', () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.95, sum by (le, route) (rate(tollgate_http_request_duration_seconds_bucket{status=~"5.."}[$__rate_interval])))',
      ),
    ).toEqual(['tollgate_http_request_duration_seconds_bucket']);
    expect(metricNamesIn('sum(a_total) / clamp_min(sum(b_total offset 1h), 1e-9)')).toEqual([
      'a_total',
      'b_total',
    ]);
  });
});

describe('deploy/prometheus', () => {
  it('scrapes the server service on /metrics', () => {
    const yml = readFileSync(deploy('prometheus/prometheus.yml'), 'utf8');
    expect(yml).toMatch(/metrics_path: \/metrics/);
    expect(yml).toMatch(/targets: \[["']server:3000["']\]/);
    expect(yml).toMatch(/METRICS_TOKEN/);
  });

  it('provisions the datasource uid the dashboard uses and the dashboards folder', () => {
    const ds = readFileSync(deploy('grafana/provisioning/datasources/prometheus.yml'), 'utf8');
    expect(ds).toContain('uid: prometheus');
    expect(ds).toContain('url: http://prometheus:9090');
    const prov = readFileSync(deploy('grafana/provisioning/dashboards/dashboards.yml'), 'utf8');
    expect(prov).toContain('path: /var/lib/grafana/dashboards');
  });
});
