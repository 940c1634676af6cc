/**
 * Reads the synthesized manifests (dist/<env>/*.yaml) the way a cluster would: the engines'
 * Deployments and CronJobs, their containers, env, ports and probes. Only the fields the contract
 * test needs are typed.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';

/** The namespaces engines live in. */
export const ENGINE_NAMESPACES: readonly string[] = ['nautilus-latency', 'nautilus-engines'];

/** A probe as the manifest declares it (HTTP only). */
export interface ManifestProbe {
  readonly httpGet?: { readonly path: string; readonly port: string | number; readonly scheme?: string };
  readonly periodSeconds?: number;
  readonly timeoutSeconds?: number;
  readonly failureThreshold?: number;
  readonly initialDelaySeconds?: number;
}

/** An env entry: a value, or a reference resolved by the kubelet. */
export interface ManifestEnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly secretKeyRef?: { readonly name: string; readonly key: string };
    readonly configMapKeyRef?: { readonly name: string; readonly key: string };
  };
}

/** The container fields the runtime sees. */
export interface ManifestContainer {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: readonly ManifestEnvVar[];
  readonly ports?: ReadonlyArray<{ readonly name?: string; readonly containerPort: number; readonly protocol?: string }>;
  readonly startupProbe?: ManifestProbe;
  readonly livenessProbe?: ManifestProbe;
  readonly readinessProbe?: ManifestProbe;
}

/** The pod fields the runtime sees. */
export interface ManifestPodSpec {
  readonly containers: readonly ManifestContainer[];
  readonly terminationGracePeriodSeconds?: number;
  readonly securityContext?: { readonly runAsUser?: number; readonly runAsGroup?: number };
}

/** One engine's workload in one environment. */
export interface EngineWorkload {
  readonly environment: string;
  readonly kind: 'Deployment' | 'CronJob';
  readonly name: string;
  readonly namespace: string;
  /** The file it came from, relative to the repository root. */
  readonly file: string;
  readonly pod: ManifestPodSpec;
  /** The engine's container (named after the workload). */
  readonly container: ManifestContainer;
  /** The CronJob's activeDeadlineSeconds. */
  readonly activeDeadlineSeconds?: number;
  /** Where the engine's ServiceMonitor scrapes it, if it has one. */
  readonly metrics?: { readonly port: string; readonly path: string };
}

interface KubeObject {
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly spec?: {
    readonly endpoints?: ReadonlyArray<{ readonly port?: string; readonly path?: string }>;
    readonly template?: { readonly spec?: ManifestPodSpec };
    readonly jobTemplate?: { readonly spec?: { readonly activeDeadlineSeconds?: number; readonly template?: { readonly spec?: ManifestPodSpec } } };
  };
}

/** Thrown when dist/ is missing: the test flow synthesizes first. */
export class MissingSynthesisError extends Error {}

/**
 * Every engine workload of one environment. Throws {@link MissingSynthesisError} when
 * dist/<env>/ has no YAML.
 */
export function loadEngineWorkloads(repositoryRoot: string, environment: string): EngineWorkload[] {
  const dir = path.join(repositoryRoot, 'dist', environment);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort() : [];
  if (files.length === 0) {
    throw new MissingSynthesisError(`dist/${environment}/ has no manifests: run \`npm run synth\` before the contract test (it reads the synthesized YAML, not the catalog)`);
  }
  const workloads: EngineWorkload[] = [];
  const monitors = new Map<string, { port: string; path: string }>();
  for (const file of files) {
    const relative = path.posix.join('dist', environment, file);
    for (const document of parseAllDocuments(fs.readFileSync(path.join(dir, file), 'utf8'))) {
      if (document.errors.length > 0) throw new Error(`${relative}: ${document.errors[0].message}`);
      const object = document.toJSON() as KubeObject | null;
      if (!object || !ENGINE_NAMESPACES.includes(object.metadata?.namespace ?? '')) continue;
      if (object.kind === 'ServiceMonitor') {
        const endpoint = object.spec?.endpoints?.[0];
        monitors.set(`${object.metadata?.namespace}/${object.metadata?.name}`, { port: endpoint?.port ?? '', path: endpoint?.path ?? '/metrics' });
        continue;
      }
      let pod: ManifestPodSpec | undefined;
      let activeDeadlineSeconds: number | undefined;
      if (object.kind === 'Deployment') pod = object.spec?.template?.spec;
      else if (object.kind === 'CronJob') {
        pod = object.spec?.jobTemplate?.spec?.template?.spec;
        activeDeadlineSeconds = object.spec?.jobTemplate?.spec?.activeDeadlineSeconds;
      } else continue;
      const name = object.metadata?.name ?? '';
      const container = pod?.containers.find((c) => c.name === name) ?? pod?.containers[0];
      if (!pod || !container) throw new Error(`${relative}: ${object.kind} ${name} has no container`);
      workloads.push({ environment, kind: object.kind, name, namespace: object.metadata?.namespace ?? '', file: relative, pod, container, activeDeadlineSeconds });
    }
  }
  return workloads.map((w) => ({ ...w, metrics: monitors.get(`${w.namespace}/${w.name}`) }));
}

/** Values the test gives the Secrets and ConfigMaps the manifests reference. */
export interface ReferenceValues {
  /** `<secret>/<key>` → value. */
  readonly secrets: Readonly<Record<string, string>>;
  /** `<configmap>/<key>` → value. */
  readonly configMaps: Readonly<Record<string, string>>;
}

/** Resolves a container's env as the kubelet would, with test values for references. */
export function resolveEnv(container: ManifestContainer, values: ReferenceValues): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (variable.valueFrom?.secretKeyRef) {
      const { name, key } = variable.valueFrom.secretKeyRef;
      const value = values.secrets[`${name}/${key}`];
      if (value === undefined) throw new Error(`${container.name}: env ${variable.name} references Secret ${name} key ${key}, which the contract test has no value for (add it to its reference values)`);
      env[variable.name] = value;
    } else if (variable.valueFrom?.configMapKeyRef) {
      const { name, key } = variable.valueFrom.configMapKeyRef;
      const value = values.configMaps[`${name}/${key}`];
      if (value === undefined) throw new Error(`${container.name}: env ${variable.name} references ConfigMap ${name} key ${key}, which the contract test has no value for`);
      env[variable.name] = value;
    } else {
      throw new Error(`${container.name}: env ${variable.name} has neither a value nor a supported valueFrom`);
    }
  }
  return env;
}

/** The container port a probe's `port` means (a name resolves through the container's ports). */
export function resolveProbePort(container: ManifestContainer, port: string | number): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = container.ports?.find((p) => p.name === port);
  if (!named) throw new Error(`${container.name}: a probe uses port ${JSON.stringify(port)}, which names none of the container's ports`);
  return named.containerPort;
}
