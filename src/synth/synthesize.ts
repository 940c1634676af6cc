import * as fs from 'fs';
import * as path from 'path';
import { ApiObject, App, Chart } from 'cdk8s';
import { imageBuildPlan, renderImageBuildPlan } from '../images/build-plan';
import { EnvironmentPlan, PlatformInput, planEnvironment } from '../planning/environment-plan';
import { SECRETS_READER } from '../planning/secrets';
import { kindOf } from '../planning/stores/store-kinds';
import { EnvironmentSpec } from '../environments/environment';
import { validatePlatform } from '../validation/validate';
import { ConfigurationError, ConfigurationProblem } from '../model/errors';
import { ManifestObject } from '../model/secret-references';
import { ManifestYaml } from './manifest-yaml';
import { secretCoverageProblems } from './secret-coverage';
import { discardBuild, newBuild, publishBuild } from './publish';

/** What was written for one environment. */
export interface EnvironmentResult {
  readonly environment: string;
  /** The human summary, also written to `dist/<env>/SUMMARY.txt`. */
  readonly summary: string;
}

/** One environment's cdk8s App and its charts in apply order. */
export interface EnvironmentApp {
  readonly app: App;
  /** One output file each, numbered in this order: cluster objects, network policies, data stores, engines, monitoring. */
  readonly charts: readonly Chart[];
}

/** One output file of an environment: `NNNN-<chart>.yaml` and its objects, in apply order. */
export interface ManifestFile {
  readonly file: string;
  readonly objects: readonly ApiObjectJson[];
}

/** A Kubernetes object as cdk8s renders it. */
export type ApiObjectJson = ReturnType<ApiObject['toJson']>;

/**
 * Adds the charts of one environment to its App and returns them in apply order, one output file
 * each. The entry point passes the project's charts (`charts/platform-charts.ts`): synthesis sits
 * above them, so it takes them as a parameter rather than importing them from src/.
 */
export type EnvironmentCharts = (app: App, plan: EnvironmentPlan) => readonly Chart[];

/** Builds the cdk8s App of one environment. */
export function buildEnvironmentApp(input: PlatformInput, environment: EnvironmentSpec, charts: EnvironmentCharts): EnvironmentApp {
  return appFor(planEnvironment(input, environment), charts);
}

/**
 * The charts are not chained with `addDependency`: cdk8s turns a chart dependency into one from
 * every object of one chart to every object of the other and walks that graph without
 * memoisation, which makes synthesis quadratic in the number of engines. Apply order is the
 * order of the chart list instead, and the file names carry it.
 */
function appFor(plan: EnvironmentPlan, charts: EnvironmentCharts): EnvironmentApp {
  // The App's outdir is never written to (files are rendered below); set so cdk8s does not read
  // CDK8S_OUTDIR from the process environment.
  const app = new App({ outdir: 'dist', recordConstructMetadata: false });
  return { app, charts: charts(app, plan) };
}

/** Renders an environment's charts into its files, in apply order. */
export function renderManifests({ charts }: EnvironmentApp): ManifestFile[] {
  return charts.map((chart, index) => ({
    file: `${String(index).padStart(4, '0')}-${chart.node.id}.yaml`,
    objects: chart.toJson() as ApiObjectJson[],
  }));
}

/** Which engines release how, and who promotes: one line of the summary. */
function releasesLine(environment: EnvironmentPlan['environment'], engines: EnvironmentPlan['engines']): string {
  const delivery = environment.progressiveDelivery;
  if (!delivery) return '  releases: rolling updates (no progressive delivery)';
  const named = (kind: string) => engines.filter((plan) => plan.release.kind === kind).map((plan) => plan.engine.name);
  const rollingBecause = engines.flatMap((plan) => plan.release.kind === 'rolling' && plan.release.because ? [`${plan.engine.name}: ${plan.release.because}`] : []);
  // On a mesh, which canaries it weights and which go by replica ratio (host-network engines).
  const canaries = engines.flatMap((plan) => plan.release.kind !== 'canary' ? [] : delivery.mesh
    ? [`${plan.engine.name} (${plan.release.traffic.kind === 'mesh' ? `${delivery.mesh} weights` : 'replica ratio'})`]
    : [plan.engine.name]);
  const parts = [
    `canary ${canaries.join(', ') || 'none'}`,
    `blue/green ${named('blue-green').join(', ') || 'none'}`,
    `rolling ${named('rolling').length} others${rollingBecause.length > 0 ? ` (${rollingBecause.join('; ')})` : ''}`,
  ];
  return `  releases (Argo Rollouts, ${delivery.attended ? 'the last step promoted by a person' : 'unattended'}): ${parts.join('; ')}`;
}

/** How the public engines are reached and who signs their certificate: the summary's edge lines. */
function edgeLines({ edge }: EnvironmentPlan): string[] {
  if (!edge) return ['  edge: no public engine'];
  const { access } = edge;
  const issuer = access.issuer.kind === 'private-ca' ? `the environment's private CA (root in Secret ${edge.privateRoot!.name})`
    : access.issuer.kind === 'company-ca' ? `the company CA (Secret ${access.issuer.secretName})` : `ACME ${access.issuer.server}`;
  const routes = edge.routes.map((r) => `https://${r.host}${r.pathPrefix} -> ${r.engine}:${r.port}${r.websocket ? ` (WebSocket, closed after ${r.websocket.idleTimeout} idle)` : ''}`);
  return [
    `  edge (${access.api === 'gateway' ? 'Gateway API' : 'Ingress'}, ${access.controller.implementation} class ${access.controller.className} in namespace ${access.controller.namespace}; HTTP redirected to HTTPS): ${routes.join(', ')}`,
    `  certificate ${edge.certificate.name} for ${edge.hosts.join(', ')}: signed by ${issuer}, renewed ${edge.certificate.renewBefore.toHours() / 24} days before expiry`,
  ];
}

/** Where the credentials come from and what to provision: the summary's secrets lines. */
function secretLines({ environment, secrets }: EnvironmentPlan): string[] {
  const source = environment.secrets;
  if (source.kind === 'manual') {
    return [`  secrets to create by hand (${source.reason}): ${secrets.map((s) => `${s.name} [${s.keys.join(', ')}] in ${s.namespaces.join(', ')}`).join('; ')}`];
  }
  return [
    `  secrets synced from Vault ${source.server} (KV v2 mount ${source.mount}, every ${source.refreshInterval}) by ClusterSecretStore nautilus-${environment.name}; entries to provision: ${secrets.map((s) => `${source.mount}/${source.pathPrefix}/${s.path} [${s.keys.join(', ')}]`).join(', ')}`,
    `  Vault's JWT auth at ${source.auth.mountPath}, trusting this cluster's service account tokens: role ${source.auth.role} bound to subject system:serviceaccount:${SECRETS_READER.namespace}:${SECRETS_READER.name} and audience ${source.auth.audience}, reading ${source.mount}/${source.pathPrefix}/*`,
  ];
}

function summarize(plan: EnvironmentPlan, files: readonly ManifestFile[]): EnvironmentResult {
  const { environment, engines, stores } = plan;
  const counts = new Map<string, number>();
  for (const { objects } of files) {
    for (const object of objects) counts.set(object.kind, (counts.get(object.kind) ?? 0) + 1);
  }
  const kinds = [...counts.entries()].sort(([a], [b]) => a.localeCompare(b));
  const total = kinds.reduce((t, [, n]) => t + n, 0);
  const disabled = environment.disabledEngines.map((d) => `${d.name} (${d.reason})`);
  const lines = [
    `${environment.name}: ${total} objects, ${engines.length} engines, ${stores.length} data stores`,
    ...kinds.map(([kind, n]) => `  ${String(n).padStart(4)}  ${kind}`),
    `  disabled engines: ${disabled.length > 0 ? disabled.join('; ') : 'none'}`,
    releasesLine(environment, engines),
    ...edgeLines(plan),
    ...secretLines(plan),
    // Each store's own: what its pods read, its backups.
    ...stores.flatMap((store) => kindOf(store).summary(store)),
  ];
  return { environment: environment.name, summary: lines.join('\n') + '\n' };
}

/**
 * Validates the input, synthesizes every environment (plus `images/build-plan.json`) into a new
 * build folder beside `distDir`, and only when all succeeded publishes it as `distDir` (see
 * {@link publishBuild}). On any error `distDir` is left untouched.
 */
export function synthesizePlatform(input: PlatformInput, distDir: string, charts: EnvironmentCharts): EnvironmentResult[] {
  validatePlatform(input.catalog, input.stores, input.environments, { sources: input.engineSources });
  const staging = newBuild(distDir);
  try {
    const yaml = new ManifestYaml();
    const problems: ConfigurationProblem[] = [];
    const results = input.environments.map((environment) => {
      const outdir = path.join(staging, environment.name);
      const plan = planEnvironment(input, environment);
      const files = renderManifests(appFor(plan, charts));
      problems.push(...secretCoverageProblems(environment, files.flatMap((f) => f.objects as ManifestObject[])));
      fs.mkdirSync(outdir);
      for (const { file, objects } of files) fs.writeFileSync(path.join(outdir, file), yaml.stringify(objects));
      const result = summarize(plan, files);
      fs.writeFileSync(path.join(outdir, 'SUMMARY.txt'), result.summary);
      return result;
    });
    if (problems.length > 0) throw new ConfigurationError(problems);
    // The images every environment's manifests reference, for CI elsewhere to build and push.
    fs.mkdirSync(path.join(staging, 'images'));
    fs.writeFileSync(
      path.join(staging, 'images', 'build-plan.json'),
      renderImageBuildPlan(imageBuildPlan(input.catalog, input.imageTags)),
    );
    publishBuild(staging, distDir);
    return results;
  } catch (error) {
    discardBuild(staging);
    throw error;
  }
}
