import { ApiObject, App, Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { IntOrString, ServicePort, ServiceSpec } from '../../imports/k8s';
import { envValue } from '../../src/constructs/environment-variables';
import { platformCharts } from '../../charts/platform-charts';
import { removeField, service, setField } from '../../src/constructs/escape-hatches';
import { PLATFORM_ENVIRONMENTS } from '../../src/environments/platform-environments';
import { buildEnvironmentApp } from '../../src/synth/synthesize';
import { platformInput, synthObjects } from '../support/platform';

/**
 * The kinds the constructs build on cdk8s-plus-27 (the L2 library), every object of them in
 * every environment. Kinds it does not model (PodDisruptionBudget, PriorityClass, Role, ...) stay
 * on the L1 classes from imports/k8s.
 */
const BUILT_ON_CDK8S_PLUS = ['ServiceAccount', 'ConfigMap', 'Service', 'NetworkPolicy', 'Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'HorizontalPodAutoscaler'];

describe.each(PLATFORM_ENVIRONMENTS.map((e) => [e.name, e] as const))('cdk8s-plus-27 in %s', (_name, environment) => {
  test(`every ${BUILT_ON_CDK8S_PLUS.join(', ')} is rendered by a cdk8s-plus-27 resource`, () => {
    const { app } = buildEnvironmentApp(platformInput(), environment, platformCharts);
    const objects = app.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject);
    const planned = objects.filter((o) => BUILT_ON_CDK8S_PLUS.includes(o.kind));
    expect(planned.length).toBeGreaterThan(0);
    const notPlus = planned.filter((o) => !(o.node.scope instanceof kplus.Resource)).map((o) => `${o.kind} ${o.name}`);
    expect(notPlus).toEqual([]);
  });

  test('Services carry no empty externalIPs (the API server drops it) and headless ones publish unready members', () => {
    const services = synthObjects(environment).filter((o) => o.kind === 'Service');
    expect(services.filter((s) => 'externalIPs' in s.spec).map((s) => s.metadata.name)).toEqual([]);
    const headless = services.filter((s) => s.spec.clusterIP === 'None');
    expect(headless.length).toBeGreaterThan(0);
    for (const s of headless) expect(s.spec.publishNotReadyAddresses).toBe(true);
  });


  test('workloads carry none of what cdk8s-plus-27 adds on its own that the API server drops or that would roll pods', () => {
    const text = JSON.stringify(synthObjects(environment));
    expect(text).not.toContain('cdk8s.io/metadata.addr');
    for (const workload of synthObjects(environment).filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob'].includes(o.kind))) {
      const template = workload.kind === 'CronJob' ? workload.spec.jobTemplate.spec.template : workload.spec.template;
      expect(template.spec.hostNetwork === undefined || template.spec.hostNetwork === true).toBe(true);
      expect(workload.spec.minReadySeconds).toBeUndefined();
      // Capabilities by their bare names, as Kubernetes documents them (cdk8s-plus-27 would write CAP_*).
      for (const container of template.spec.containers) {
        for (const capability of container.securityContext.capabilities.add ?? []) expect(capability).not.toMatch(/^CAP_/);
      }
    }
  });
});

describe('escape hatches', () => {
  const build = (configure: (chart: Chart) => void) => {
    // Not Testing.chart(): its App makes a temporary output folder for every chart and leaves it behind.
    const chart = new Chart(new App({ outdir: 'dist' }), 'test');
    configure(chart);
    return Testing.synth(chart);
  };

  test('setField writes an L1-typed value cdk8s-plus-27 does not model, converted like any L1 field', () => {
    const [rendered] = build((chart) => {
      const svc = service(chart, 'Service', { metadata: { name: 'a' }, ports: [{ name: 'http', port: 80 }] });
      setField<ServicePort, 'targetPort'>(svc, '/spec/ports/0', 'targetPort', IntOrString.fromString('http'));
      setField<ServiceSpec, 'publishNotReadyAddresses'>(svc, '/spec', 'publishNotReadyAddresses', true);
    });
    expect(rendered.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http' }]);
    expect(rendered.spec.publishNotReadyAddresses).toBe(true);
  });

  test('service() drops the externalIPs cdk8s-plus-27 always writes; removeField drops any field', () => {
    const [plain, cleaned] = build((chart) => {
      new kplus.Service(chart, 'Plain', { metadata: { name: 'plain' }, ports: [{ port: 80 }] });
      const svc = service(chart, 'Cleaned', { metadata: { name: 'cleaned' }, ports: [{ port: 80 }] });
      removeField<ServiceSpec>(svc, '/spec', 'type');
    });
    expect(plain.spec.externalIPs).toEqual([]);
    expect(cleaned.spec.externalIPs).toBeUndefined();
    expect(cleaned.spec.type).toBeUndefined();
    expect(plain.spec.type).toBe('ClusterIP');
  });
});

describe('planned environment variables as cdk8s-plus-27\'s (planning writes plain data)', () => {
  test('values, Secret keys and pod fields convert; one Secret reference per Secret name', () => {
    const chart = new Chart(new App({ outdir: 'dist' }), 'test');
    const container = new kplus.Deployment(chart, 'Workload', { containers: [{ image: 'i' }] }).containers[0];
    container.env.addVariable('PLAIN', envValue(chart, { name: 'PLAIN', value: 'x' }));
    container.env.addVariable('USER', envValue(chart, { name: 'USER', secretKey: { secret: 'creds', key: 'username' } }));
    container.env.addVariable('PASSWORD', envValue(chart, { name: 'PASSWORD', secretKey: { secret: 'creds', key: 'password' } }));
    for (const [name, podField] of [['POD_NAME', 'metadata.name'], ['NAMESPACE', 'metadata.namespace'], ['POD_IP', 'status.podIP']] as const) {
      container.env.addVariable(name, envValue(chart, { name, podField }));
    }
    const env = Testing.synth(chart)[0].spec.template.spec.containers[0].env;
    expect(env).toEqual([
      { name: 'PLAIN', value: 'x' },
      { name: 'USER', valueFrom: { secretKeyRef: { name: 'creds', key: 'username' } } },
      { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    ]);
    expect(chart.node.findAll().filter((c) => c.node.id.startsWith('Secret-')).map((c) => c.node.id)).toEqual(['Secret-creds']);
  });

  test('what the conversion cannot render cannot be planned: the compiler refuses it (each call below must fail to type-check)', () => {
    const unplannable = (chart: Chart) => [
      // @ts-expect-error planning has no ConfigMap references
      envValue(chart, { name: 'FROM_MAP', configMapKey: { name: 'm', key: 'k' } }),
      // @ts-expect-error only the pod fields the platform reads are mapped to cdk8s-plus-27's
      envValue(chart, { name: 'NODE', podField: 'spec.nodeName' }),
      // @ts-expect-error a variable has a value, a Secret key or a pod field
      envValue(chart, { name: 'EMPTY' }),
    ];
    expect(typeof unplannable).toBe('function');
  });
});
