import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import { EnvironmentSpec } from '../../src/environments/environment';
import { NAMESPACE_NAMES } from '../../src/planning/namespaces';
import { CREDENTIAL_SECRETS, TIMESCALEDB_SECRETS } from '../../src/planning/runtime-contract';
import { ManifestObject } from './apply';

const REPOSITORY = path.resolve(__dirname, '..', '..');

/** `dist/<environment>/`, where `npm run synth` writes the environment's manifests. */
export function distDirectory(environment: EnvironmentSpec): string {
  return path.join(REPOSITORY, 'dist', environment.name);
}

/**
 * Every object of `dist/<environment>/*.yaml`, files in name order (0000-cluster
 * first), objects in file order. Fails with what to run when the directory is
 * missing, and on any YAML error.
 */
export function readDistManifests(environment: EnvironmentSpec): ManifestObject[] {
  const directory = distDirectory(environment);
  const relative = path.relative(REPOSITORY, directory);
  if (!fs.existsSync(directory)) {
    throw new Error(`${relative}/ does not exist: run \`npm run synth\` first (npm test does it for you)`);
  }
  const files = fs.readdirSync(directory).filter((file) => file.endsWith('.yaml')).sort();
  if (files.length === 0) {
    throw new Error(`${relative}/ has no manifests: run \`npm run synth\` first (npm test does it for you)`);
  }
  return files.flatMap((file) => readYamlObjects(path.join(directory, file)));
}

/** The CRDs the manifests use (Karpenter NodePool, ServiceMonitor), as their operators would install them. */
export function readCrds(): ManifestObject[] {
  const directory = path.join(REPOSITORY, 'imports', 'crds');
  return fs
    .readdirSync(directory)
    .filter((file) => file.endsWith('.yaml'))
    .sort()
    .flatMap((file) => readYamlObjects(path.join(directory, file)));
}

/** Every object of the `*.yaml` files of `directory`, files in name order, objects in file order. */
export function readManifestDirectory(directory: string): ManifestObject[] {
  return fs.readdirSync(directory).filter((file) => file.endsWith('.yaml')).sort()
    .flatMap((file) => readYamlObjects(path.join(directory, file)));
}

function readYamlObjects(file: string): ManifestObject[] {
  const documents = parseAllDocuments(fs.readFileSync(file, 'utf8'));
  const objects: ManifestObject[] = [];
  for (const document of documents) {
    if (document.errors.length > 0) {
      throw new Error(`${path.relative(REPOSITORY, file)}: ${document.errors.map((error) => error.message).join('; ')}`);
    }
    const object = document.toJSON() as ManifestObject | null;
    if (object) {
      objects.push(object);
    }
  }
  return objects;
}

/**
 * The credential Secrets the manifests reference but do not contain (a secret
 * manager provisions them on a real cluster), with test values, in each of the
 * given namespaces.
 */
export function credentialSecrets(namespaces: readonly string[]): ManifestObject[] {
  return namespaces.flatMap((namespace) =>
    [
      ...Object.values(CREDENTIAL_SECRETS),
      // Only TimescaleDB's own pods, in the data namespace, read the superuser and replication Secrets.
      ...(namespace === NAMESPACE_NAMES.data ? Object.values(TIMESCALEDB_SECRETS) : []),
    ].map((secret) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: secret.name, namespace },
      type: 'Opaque',
      stringData: Object.fromEntries(secret.keys.map((key) => [key, `test-${key}`])),
    })),
  );
}

/**
 * The namespace the cluster's monitoring stack (kube-prometheus-stack, prometheus-adapter,
 * Grafana) runs in: it exists before our manifests, which put their rules, dashboards and
 * adapter configuration there.
 */
export function monitoringStackNamespace(environment: EnvironmentSpec): ManifestObject[] {
  return [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: environment.monitoringNamespace } }];
}

/**
 * Storage classes the environment uses but does not create (dev relies on the
 * cluster's own `standard`), as kind and minikube provide them: a local-path
 * provisioner binding on first consumer.
 */
export function clusterProvidedStorageClasses(environment: EnvironmentSpec): ManifestObject[] {
  const created = new Set(environment.storageClasses.map((storageClass) => storageClass.name));
  const used = [...new Set(Object.values(environment.storageClassFor))].filter((name) => !created.has(name)).sort();
  return used.map((name) => ({
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name },
    provisioner: 'rancher.io/local-path',
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
  }));
}
