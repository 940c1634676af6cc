/**
 * The synthesized manifests of every environment through kubeconform (strict, offline schemas for
 * the Kubernetes versions we support, plus our CRDs), kube-score and checkov. Every linter finding
 * must be listed, with its reason, in accepted-findings.yaml; a new unexplained finding fails, and
 * so does a listed one that no longer occurs (the list stays honest).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { platformCharts } from '../../charts/platform-charts';
import { PLATFORM_ENVIRONMENTS } from '../../src/environments/platform-environments';
import { synthesizePlatform } from '../../src/synth/synthesize';
import { platformInput } from '../support/platform';
import {
  AcceptedFinding, Finding, LinterPaths, accepts, checkov, installLinters, kubeScore, kubeconform, prepareCrdSchemas,
  prepareKubernetesSchemas, readAcceptedFindings,
} from './linters';

/** The oldest Kubernetes the manifests target (cdk8s-plus-27, Pod Security v1.27) and the one the cluster tests run. */
const KUBERNETES_VERSIONS = ['1.27.0', '1.36.0'];

let workdir: string;
let linters: LinterPaths;
let schemas: string;
let dist: string;
const filesOf = (environment: string) => fs.readdirSync(path.join(dist, environment)).filter((f) => f.endsWith('.yaml')).map((f) => path.join(dist, environment, f));

beforeAll(() => {
  linters = installLinters();
  workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-lint-'));
  schemas = path.join(workdir, 'schemas');
  for (const version of KUBERNETES_VERSIONS) prepareKubernetesSchemas(linters.schemas, version, schemas);
  prepareCrdSchemas(path.join(schemas, 'crds'));
  dist = path.join(workdir, 'dist');
  synthesizePlatform(platformInput(), dist, platformCharts);
}, 20 * 60 * 1000);

afterAll(() => fs.rmSync(workdir, { recursive: true, force: true }));

describe('kubeconform (strict, offline schemas)', () => {
  test.each(PLATFORM_ENVIRONMENTS.flatMap((e) => KUBERNETES_VERSIONS.map((v) => [e.name, v] as const)))(
    '%s is valid for Kubernetes %s, every object checked against a schema', (environment, version) => {
      const result = kubeconform(linters, schemas, version, filesOf(environment));
      expect(result.problems).toEqual([]);
      expect(result.valid).toBeGreaterThan(50);
    });

  test('an unknown field, a wrong type and a bad CRD field are each refused (the schemas are strict, CRDs included)', () => {
    const broken = path.join(workdir, 'broken.yaml');
    fs.writeFileSync(broken, [
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a, namespace: x}\nspec:\n  selector: {matchLabels: {app: a}}\n  template:\n'
        + '    metadata: {labels: {app: a}}\n    spec:\n      containers: [{name: a, image: a:1, imagePullPolicyy: Always}]\n',
      'apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {ports: [{port: "eighty"}]}\n',
      'apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: c}\nspec: {selector: {}, endpoints: [{port: http, intervall: 5s}]}\n',
    ].join('---\n'));
    const result = kubeconform(linters, schemas, '1.36.0', [broken]);
    expect(result.problems).toHaveLength(3);
    expect(result.problems.join('\n')).toMatch(/imagePullPolicyy/);
    expect(result.problems.join('\n')).toMatch(/intervall/);
  });
});

describe('kube-score and checkov', () => {
  let findings: Finding[];
  let accepted: AcceptedFinding[];
  beforeAll(() => {
    accepted = readAcceptedFindings();
    findings = PLATFORM_ENVIRONMENTS.flatMap((e) => [
      ...kubeScore(linters, e.name, filesOf(e.name)),
      ...checkov(linters, e.name, path.join(dist, e.name)),
    ]);
  }, 5 * 60 * 1000);

  test('the linters ran and found what we accept', () => {
    expect(findings.some((f) => f.tool === 'kube-score')).toBe(true);
    expect(findings.some((f) => f.tool === 'checkov')).toBe(true);
  });

  test('every finding is in accepted-findings.yaml with a reason', () => {
    const unexplained = findings.filter((f) => !accepted.some((a) => accepts(a, f)))
      .map((f) => `[${f.environment}] ${f.tool} ${f.check} ${f.object}: ${f.message}`);
    expect(unexplained).toEqual([]);
  });

  test('every accepted finding still occurs (remove entries that no longer match)', () => {
    const stale = accepted.filter((a) => !findings.some((f) => accepts(a, f))).map((a) => `${a.tool} ${a.check} ${(a.objects ?? ['*']).join(',')}`);
    expect(stale).toEqual([]);
  });

  test('a new defect is a new, unexplained finding (a privileged container)', () => {
    const folder = path.join(workdir, 'defect');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'pod.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: defect, namespace: nautilus-engines}\n'
      + 'spec:\n  containers: [{name: defect, image: "registry.example/defect:1", securityContext: {privileged: true}}]\n');
    const found = [...checkov(linters, 'prod', folder), ...kubeScore(linters, 'prod', [path.join(folder, 'pod.yaml')])];
    const unexplained = found.filter((f) => !accepted.some((a) => accepts(a, f)));
    expect(unexplained.map((f) => f.check)).toEqual(expect.arrayContaining(['CKV_K8S_16']));
  });
});
