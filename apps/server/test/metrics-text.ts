/** One sample line of the Prometheus text format. */
export type Sample = { name: string; labels: Record<string, string>; value: number };

/** Parses Prometheus text format samples (enough for prom-client's output). */
export function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m?.[1] || m[3] === undefined) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (l[1]) labels[l[1]] = l[2] ?? '';
    }
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Metric families by `# TYPE` line: name → type. */
export function metricTypes(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (m[1] && m[2]) types.set(m[1], m[2]);
  }
  return types;
}

/** Sample names a scrape exposes, histograms and summaries expanded to their series names. */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [name, type] of metricTypes(text)) {
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  for (const s of parseSamples(text)) names.add(s.name);
  return names;
}

/** The value of the one sample matching `name` and every label in `labels` (summed if several). */
export function sampleValue(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const hits = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return hits.length === 0 ? undefined : hits.reduce((a, s) => a + s.value, 0);
}

/**
 * Scrapes `/metrics` once and returns how many requests of a route template and method answered
 * `status` (the HTTP duration histogram's count).
 */
export async function httpRouteCounts(
  app: { inject(o: { method: 'GET'; url: string }): Promise<{ body: string }> },
  status = '200',
): Promise<(route: string, method: string) => number | undefined> {
  const samples = parseSamples((await app.inject({ method: 'GET', url: '/metrics' })).body);
  return (route, method) =>
    sampleValue(samples, 'tollgate_http_request_duration_seconds_count', { route, method, status });
}
