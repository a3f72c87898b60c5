import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '@tollgate/config';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './spawn.ts';

// deploy/k8s rendered offline and checked against the Kubernetes API schemas that the
// kubernetes-models package ships (its validate() is JSON-schema validation per kind).

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are walked by path below, after validation
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
};

const models: Record<string, new (o: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
};

const k8sDir = join(repoRoot, 'deploy/k8s');

function hasKubectl(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const parse = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);

/**
 * `kubectl kustomize <dir>` where kubectl is installed (it renders offline); elsewhere the plain
 * manifests the base lists, read as they are (the overlay's patches are then not applied).
 */
function render(dir: string): Obj[] {
  if (hasKubectl()) {
    return parse(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' }));
  }
  const base = join(k8sDir, 'base');
  const kustomization = parse(readFileSync(join(base, 'kustomization.yaml'), 'utf8'))[0] as {
    resources: string[];
  } & Obj;
  return kustomization.resources.flatMap((f) => parse(readFileSync(join(base, f), 'utf8')));
}

function validate(o: Obj): void {
  const Model = models[`${o.apiVersion}/${o.kind}`];
  if (!Model) throw new Error(`no schema for ${o.apiVersion} ${o.kind} (${o.metadata.name})`);
  new Model(o as never).validate(); // throws naming every schema violation
}

const base = render(k8sDir);
const find = (kind: string, name: string) => {
  const o = base.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind}/${name} not rendered`);
  return o;
};
const secretTemplate = parse(readFileSync(join(k8sDir, 'secret.template.yaml'), 'utf8'));

describe('deploy/k8s', () => {
  it('renders every piece of the base, each valid against its Kubernetes schema', () => {
    expect(base.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ConfigMap/tollgate-config',
      'Deployment/tollgate-server',
      'Deployment/tollgate-worker',
      'HorizontalPodAutoscaler/tollgate-server',
      'Job/tollgate-migrate',
      'PodDisruptionBudget/tollgate-server',
      'PodDisruptionBudget/tollgate-worker',
      'Service/tollgate',
    ]);
    for (const o of [...base, ...secretTemplate]) validate(o);
  });

  it('the schemas do catch a broken manifest (the check is not vacuous)', () => {
    const broken = structuredClone(find('Deployment', 'tollgate-server'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => validate(broken)).toThrow(/containerPort/);
  });

  it('the managed-Postgres overlay renders valid manifests too', () => {
    const overlay = render(join(k8sDir, 'overlays/managed-postgres'));
    expect(overlay.length).toBe(base.length);
    for (const o of overlay) validate(o);
  });

  it('server: readiness /readyz, liveness /healthz, scraped, grace period over SHUTDOWN_GRACE_MS', () => {
    const server = find('Deployment', 'tollgate-server');
    const pod = server.spec.template;
    const c = pod.spec.containers[0];
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(pod.metadata.annotations['prometheus.io/scrape']).toBe('true');
    expect(pod.metadata.annotations['prometheus.io/path']).toBe('/metrics');
    const grace = Number(find('ConfigMap', 'tollgate-config').data?.SHUTDOWN_GRACE_MS);
    const preStop = Number(c.lifecycle.preStop.exec.command[1]);
    expect(pod.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(grace + preStop * 1000);
    // The Service and the autoscaler point at this Deployment's pods.
    const svc = find('Service', 'tollgate');
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(pod.metadata.labels[k]).toBe(v);
    expect(find('HorizontalPodAutoscaler', 'tollgate-server').spec.scaleTargetRef.name).toBe(
      'tollgate-server',
    );
  });

  it('every pod: non-root, read-only root filesystem, requests and limits, config from env', () => {
    const pods = base
      .filter((o) => o.kind === 'Deployment' || o.kind === 'Job')
      .map((o) => o.spec.template.spec);
    expect(pods).toHaveLength(3);
    for (const pod of pods) {
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      for (const c of pod.containers) {
        expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
        expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
        expect(c.resources.requests.memory).toBeDefined();
        expect(c.resources.limits.memory).toBeDefined();
        expect(
          c.envFrom.map((e: { configMapRef?: { name: string } }) => e.configMapRef?.name),
        ).toContain('tollgate-config');
      }
    }
  });

  it('the ConfigMap and Secret template hold real settings that Tollgate accepts', () => {
    const data = find('ConfigMap', 'tollgate-config').data ?? {};
    const secret = secretTemplate[0]?.stringData ?? {};
    const env = {
      ...data,
      ...secret,
      TOLLGATE_SECRET: 'x'.repeat(44),
      TOLLGATE_ADMIN_PASSWORD: 'a-long-enough-password',
    };
    const config = loadConfig(env); // throws ConfigError naming any bad value
    expect(config.webConcurrency).toBe(1);
    expect(config.host).toBe('0.0.0.0');
    expect(config.shutdownGraceMs).toBe(Number(data.SHUTDOWN_GRACE_MS));
    const known = new Set(readFileSync(join(repoRoot, 'turbo.json'), 'utf8').match(/"[A-Z_]+"/g));
    for (const name of Object.keys({ ...data, ...secret })) expect(known).toContain(`"${name}"`);
  });
});
