/**
 * Runs the manifest linters the lint test uses: kubeconform (strict, against the JSON schemas that
 * the kubernetes-validate PyPI package ships, so nothing is fetched at test time, plus schemas made
 * from the CRDs in imports/crds), kube-score and checkov. scripts/install-linters.sh installs them
 * into ~/.cache/nautilus-k8s/ on first use.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';

/** The repository root. */
export const REPOSITORY = path.resolve(__dirname, '..', '..');

/** Where each linter is installed. */
export interface LinterPaths {
  readonly kubeconform: string;
  readonly kubeScore: string;
  readonly checkov: string;
  /** kubernetes-validate's schema folder (`v1.27.0-local-strict/...`). */
  readonly schemas: string;
}

/** Installs the linters if missing (idempotent; exits at once when cached) and returns their paths. */
export function installLinters(): LinterPaths {
  const output = execFileSync('bash', [path.join(REPOSITORY, 'scripts', 'install-linters.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const dirs = Object.fromEntries(output.trim().split('\n').map((line) => line.split('=') as [string, string]));
  const python = dirs.python;
  const sitePackages = fs.readdirSync(path.join(python, 'lib')).map((v) => path.join(python, 'lib', v, 'site-packages')).find((p) => fs.existsSync(p))!;
  return {
    kubeconform: path.join(dirs.kubeconform, 'bin', 'kubeconform'),
    kubeScore: path.join(dirs['kube-score'], 'bin', 'kube-score'),
    checkov: path.join(python, 'bin', 'checkov'),
    schemas: path.join(sitePackages, 'kubernetes_validate', 'kubernetes-json-schema'),
  };
}

/** One finding of a linter on one object of one environment. */
export interface Finding {
  readonly tool: 'kube-score' | 'checkov';
  /** The linter's id of the check (`container-image-pull-policy`, `CKV_K8S_43`). */
  readonly check: string;
  /** `Kind/namespace/name` (`Kind/name` for cluster-scoped objects). */
  readonly object: string;
  readonly environment: string;
  /** What the linter said, for the failure message. */
  readonly message: string;
}

/**
 * Copies one Kubernetes version's strict schemas where kubeconform can read them: kubernetes-validate
 * writes its references as `/api/_definitions.json` (resolved by its own loader) and declares draft
 * 2020-12 by URL, which kubeconform's compiler would try to download; both are rewritten.
 */
export function prepareKubernetesSchemas(schemas: string, version: string, outDir: string): void {
  const source = path.join(schemas, `v${version}-local-strict`);
  const target = path.join(outDir, `v${version}-local-strict`);
  fs.mkdirSync(target, { recursive: true });
  for (const file of fs.readdirSync(source)) {
    const text = fs.readFileSync(path.join(source, file), 'utf8')
      .replaceAll('"/api/_definitions.json#', '"_definitions.json#')
      .replace(/^\s*"\$schema": "https:\/\/json-schema\.org\/draft\/2020-12\/schema",?\n/m, '');
    fs.writeFileSync(path.join(target, file), text);
  }
}

/** Closes every object schema that lists its properties, as the API server prunes and strict decoding rejects unknown fields. */
function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) out[key] = strict(value);
  if (out.properties && out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  return out;
}

/**
 * A CRD's root schema with `apiVersion`, `kind` and `metadata`, which the API server accepts on
 * every object whether the CRD lists them or not (Istio's do not; kubebuilder's do).
 */
function withObjectMeta(schema: { properties?: Record<string, unknown> }): unknown {
  return { ...schema, properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, ...schema.properties } };
}

/** Writes a strict JSON schema for every version of every CRD in imports/crds, as `<group>/<kind>_<version>.json`. */
export function prepareCrdSchemas(outDir: string): void {
  const crdDir = path.join(REPOSITORY, 'imports', 'crds');
  for (const file of fs.readdirSync(crdDir).filter((f) => f.endsWith('.yaml'))) {
    for (const crd of YAML.parseAllDocuments(fs.readFileSync(path.join(crdDir, file), 'utf8')).map((d) => d.toJS())) {
      if (crd?.kind !== 'CustomResourceDefinition') continue;
      for (const version of crd.spec.versions) {
        const folder = path.join(outDir, crd.spec.group);
        fs.mkdirSync(folder, { recursive: true });
        fs.writeFileSync(path.join(folder, `${crd.spec.names.kind.toLowerCase()}_${version.name}.json`), JSON.stringify(strict(withObjectMeta(version.schema.openAPIV3Schema))));
      }
    }
  }
}

/** kubeconform's verdict on every object of the given files. */
export interface KubeconformResult {
  readonly valid: number;
  /** One line per invalid object or missing schema (kubeconform's own words). */
  readonly problems: readonly string[];
}

/** Validates manifests strictly against one Kubernetes version's schemas (and the CRDs'), offline. */
export function kubeconform(linters: LinterPaths, schemaDir: string, version: string, files: readonly string[]): KubeconformResult {
  const result = spawnSync(linters.kubeconform, [
    '-strict', '-summary', '-output', 'json', '-kubernetes-version', version,
    '-schema-location', `${schemaDir}/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json`,
    '-schema-location', `${schemaDir}/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`,
    ...files,
  ], { encoding: 'utf8' });
  const report = JSON.parse(result.stdout) as { resources?: Array<{ filename: string; kind: string; name: string; status: string; msg: string }>; summary: { valid: number } };
  const problems = (report.resources ?? []).filter((r) => r.status !== 'statusValid')
    .map((r) => `${path.basename(r.filename)} ${r.kind} ${r.name}: ${r.status.replace('status', '')}: ${r.msg}`);
  if (result.status !== 0 && problems.length === 0) throw new Error(`kubeconform failed: ${result.stderr}`);
  return { valid: report.summary.valid, problems };
}

const objectId = (kind: string, namespace: string | undefined, name: string) => [kind, namespace, name].filter((p) => p).join('/');

/** kube-score's warnings and criticals (grade below 10, not skipped) for one environment's files. */
export function kubeScore(linters: LinterPaths, environment: string, files: readonly string[]): Finding[] {
  const result = spawnSync(linters.kubeScore, ['score', '--kubernetes-version', 'v1.27', '--output-format', 'json', ...files], { encoding: 'utf8' });
  if (result.stdout.trim() === '') throw new Error(`kube-score failed: ${result.stderr}`);
  const objects = JSON.parse(result.stdout) as Array<{
    type_meta: { kind: string }; object_meta: { name: string; namespace?: string };
    checks: Array<{ check: { id: string }; grade: number; skipped: boolean; comments: Array<{ path: string; summary: string }> | null }>;
  }>;
  return objects.flatMap((o) => o.checks.filter((c) => !c.skipped && c.grade < 10).map((c): Finding => ({
    tool: 'kube-score', check: c.check.id, object: objectId(o.type_meta.kind, o.object_meta.namespace, o.object_meta.name), environment,
    message: (c.comments ?? []).map((m) => `${m.path ? `(${m.path}) ` : ''}${m.summary}`).join('; '),
  })));
}

/** checkov's failed Kubernetes checks for one environment's folder (offline: no policy download). */
export function checkov(linters: LinterPaths, environment: string, folder: string): Finding[] {
  const result = spawnSync(linters.checkov, ['--directory', folder, '--framework', 'kubernetes', '--output', 'json', '--quiet', '--compact', '--skip-download'], {
    encoding: 'utf8', env: { ...process.env, BC_SKIP_MAPPING: 'TRUE', CHECKOV_RUN_SCA_PACKAGE_SCAN_V2: 'false' }, maxBuffer: 64 * 1024 * 1024,
  });
  if (result.stdout.trim() === '') throw new Error(`checkov failed: ${result.stderr}`);
  const parsed = JSON.parse(result.stdout) as unknown;
  const report = (Array.isArray(parsed) ? parsed[0] : parsed) as { results?: { failed_checks: Array<{ check_id: string; check_name: string; resource: string }> } };
  return (report.results?.failed_checks ?? []).map((f): Finding => {
    // checkov names resources `Kind.namespace.name` (`Kind.name` when cluster-scoped); names never contain dots here.
    const [kind, ...rest] = f.resource.split('.');
    return { tool: 'checkov', check: f.check_id, object: [kind, ...rest].join('/'), environment, message: f.check_name };
  });
}

/** A finding we accept, with why; `objects` and `environments` narrow it (globs with `*`). */
export interface AcceptedFinding {
  readonly tool: Finding['tool'];
  readonly check: string;
  readonly objects?: readonly string[];
  readonly environments?: readonly string[];
  readonly reason: string;
}

const glob = (pattern: string) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`);

/** Whether `accepted` covers `finding`. */
export function accepts(accepted: AcceptedFinding, finding: Finding): boolean {
  return accepted.tool === finding.tool && accepted.check === finding.check
    && (accepted.objects ?? ['*']).some((o) => glob(o).test(finding.object))
    && (accepted.environments ?? ['*']).some((e) => glob(e).test(finding.environment));
}

/** The checked-in list of accepted findings (test/lint/accepted-findings.yaml). */
export function readAcceptedFindings(): AcceptedFinding[] {
  const list = YAML.parse(fs.readFileSync(path.join(__dirname, 'accepted-findings.yaml'), 'utf8')) as AcceptedFinding[];
  for (const entry of list) {
    if (!entry.tool || !entry.check || !entry.reason || entry.reason.trim().length < 20) {
      throw new Error(`accepted-findings.yaml: every entry needs tool, check and a reason (got ${JSON.stringify(entry)})`);
    }
  }
  return list;
}
