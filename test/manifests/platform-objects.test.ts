import { PLATFORM_DATA_STORES } from '../../src/catalog/data-stores';
import { DataStoreName } from '../../src/catalog/engine-spec';
import { Tier } from '../../src/catalog/tier';
import { DEV, PROD, STAGING } from '../../src/environments/platform-environments';
import { NAMESPACE_NAMES } from '../../src/planning/namespaces';
import { enabledEngines, isService, planEngine } from '../../src/planning/plan';
import { K8sObject, PLATFORM_ENGINES, find, has, synthObjects } from '../support/platform';

describe.each([DEV, STAGING, PROD].map((e) => [e.name, e] as const))('data stores in %s', (_n, environment) => {
  const objects = synthObjects(environment);

  test('third-party images come through the environment\'s mirror where it has one; the version label is the tag', () => {
    const images = objects.filter((o) => o.kind === 'StatefulSet' || o.kind === 'DaemonSet')
      .map((o) => [o, o.spec.template.spec.containers[0].image as string] as const);
    expect(images.length).toBeGreaterThanOrEqual(2);
    for (const [object, image] of images) {
      if (environment.thirdPartyMirror) expect(image.startsWith(`${environment.thirdPartyMirror}/`)).toBe(true);
      else expect(image).not.toMatch(/nautilus\.internal/);
      expect(object.metadata.labels!['app.kubernetes.io/version']).toBe(image.split('@')[0].split(':').pop());
    }
  });

  test('every emptyDir of every pod has a size limit (hugepages are bounded by their resource)', () => {
    const pods = objects.flatMap((o) => {
      if (o.kind === 'CronJob') return [o.spec.jobTemplate.spec.template.spec];
      return o.spec?.template?.spec ? [o.spec.template.spec] : [];
    });
    const emptyDirs = pods.flatMap((p) => (p.volumes ?? []).filter((v: { emptyDir?: object }) => v.emptyDir));
    expect(emptyDirs.length).toBeGreaterThan(3);
    for (const volume of emptyDirs) {
      if (!String(volume.emptyDir.medium ?? '').startsWith('HugePages')) expect(volume.emptyDir.sizeLimit).toBeDefined();
    }
  });

  test.each(['timescaledb', 'redis'])('%s: StatefulSet keeping its claims on the environment storage class, headless Service', (name) => {
    const sts = find(objects, 'StatefulSet', name);
    expect(sts.metadata.namespace).toBe(NAMESPACE_NAMES.data);
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    const [claim] = sts.spec.volumeClaimTemplates;
    expect(claim.spec.storageClassName).toBe(environment.storageClassFor.fast);
    expect(claim.spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(sts.spec.serviceName).toBe(`${name}-headless`);
    expect(find(objects, 'Service', `${name}-headless`).spec.clusterIP).toBe('None');
    expect(find(objects, 'Service', name).spec.type).toBe('ClusterIP');
    // One primary, honestly: no replicas that would be unrelated databases.
    expect(sts.spec.replicas).toBe(1);
    const pod = sts.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, fsGroup: pod.securityContext.runAsUser });
    expect(pod.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(pod.priorityClassName).toBe('nautilus-data');
    expect(Object.keys(sts.spec.template.metadata.annotations)).toContain('nautilus.io/config-sha256');
  });

  test('TimescaleDB: pg_isready probes, PGDATA below the mount, shm in memory, timescaledb preloaded, credentials by reference', () => {
    const sts = find(objects, 'StatefulSet', 'timescaledb');
    const container = sts.spec.template.spec.containers[0];
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      expect(container[probe].exec.command.join(' ')).toContain('pg_isready');
    }
    expect(container.env).toContainEqual({ name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' });
    expect(container.env).toContainEqual({ name: 'POSTGRES_PASSWORD', valueFrom: { secretKeyRef: { name: 'timescaledb-credentials', key: 'password' } } });
    expect(sts.spec.template.spec.volumes).toContainEqual({ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: expect.any(String) } });
    expect(find(objects, 'ConfigMap', 'timescaledb-config').data['postgresql.conf']).toContain("shared_preload_libraries = 'timescaledb'");
    expect(sts.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60);
  });

  test('Redis: redis-cli ping probes, AOF on, password from a Secret', () => {
    const sts = find(objects, 'StatefulSet', 'redis');
    const container = sts.spec.template.spec.containers[0];
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      expect(container[probe].exec.command.join(' ')).toContain('redis-cli');
    }
    expect(container.command).toEqual(['redis-server', '/etc/redis/redis.conf', '--requirepass', '$(REDIS_PASSWORD)']);
    expect(find(objects, 'ConfigMap', 'redis-config').data['redis.conf']).toMatch(/^appendonly yes$/m);
  });

  test('no Secret and no credential value appears in the output', () => {
    expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
    const text = JSON.stringify(objects);
    expect(text).not.toMatch(/"(POSTGRES_PASSWORD|REDIS_PASSWORD|NAUTILUS_\w*PASSWORD)","value"/);
    expect(text).not.toMatch(/requirepass [^$"]/);
  });
});

/** CPU quantity as synthesized (`12` or `12500m`) in millicores. */
const millicores = (q: string | number) => (String(q).endsWith('m') ? Number(String(q).slice(0, -1)) : Number(q) * 1000);
/** Memory quantity as synthesized (`96Gi` or `512Mi`) in mebibytes. */
const mebibytes = (q: string) => (q.endsWith('Gi') ? Number(q.slice(0, -2)) * 1024 : Number(q.slice(0, -2)));

describe.each([DEV, STAGING, PROD].map((e) => [e.name, e] as const))('cluster objects in %s', (_n, environment) => {
  const objects = synthObjects(environment);

  test('namespaces carry the least privileged Pod Security level their pods allow', () => {
    const level = (ns: string) => find(objects, 'Namespace', ns).metadata.labels!['pod-security.kubernetes.io/enforce'];
    expect(level('nautilus-latency')).toBe('privileged');
    expect(level('nautilus-engines')).toBe('restricted');
    expect(level('nautilus-data')).toBe('restricted');
    for (const ns of objects.filter((o) => o.kind === 'Namespace')) {
      for (const mode of ['enforce', 'warn', 'audit']) expect(ns.metadata.labels![`pod-security.kubernetes.io/${mode}-version`]).toBe('v1.27');
    }
    // Only host-network engines live in the privileged namespace.
    for (const engine of enabledEngines(PLATFORM_ENGINES, environment)) {
      expect(planEngine(engine, environment).namespace === 'nautilus-latency').toBe(engine.tier.hostNetwork);
    }
  });

  test('a PriorityClass per tier plus the data stores, data above every engine', () => {
    for (const tier of Tier.all()) expect(find(objects, 'PriorityClass', tier.priorityClassName).value).toBe(tier.priorityValue);
    const data = find(objects, 'PriorityClass', 'nautilus-data').value;
    for (const tier of Tier.all()) expect(data).toBeGreaterThan(tier.priorityValue);
    for (const pc of objects.filter((o) => o.kind === 'PriorityClass')) {
      expect(pc.value).toBeLessThanOrEqual(1e9);
      expect(pc.metadata.name.startsWith('system-')).toBe(false);
    }
  });

  test('every namespace has a ResourceQuota that fits its workloads at full scale, and a LimitRange without default limits', () => {
    for (const ns of Object.values(NAMESPACE_NAMES)) {
      const quota = objects.find((o) => o.kind === 'ResourceQuota' && o.metadata.namespace === ns)!;
      const limitRange = objects.find((o) => o.kind === 'LimitRange' && o.metadata.namespace === ns)!;
      expect(limitRange.spec.limits[0].default).toBeUndefined();
      const plans = enabledEngines(PLATFORM_ENGINES, environment).map((e) => planEngine(e, environment)).filter((p) => p.namespace === ns);
      const atMost = (f: (p: (typeof plans)[number]) => number) => plans.reduce((t, p) => t + (p.autoscaling?.maxReplicas ?? p.replicas) * f(p), 0);
      expect(Number(quota.spec.hard.pods)).toBeGreaterThanOrEqual(atMost(() => 1));
      if (plans.length > 0) {
        expect(millicores(quota.spec.hard['requests.cpu'])).toBeGreaterThanOrEqual(atMost((p) => p.cpuRequest.millicores));
        expect(mebibytes(quota.spec.hard['requests.memory'])).toBeGreaterThanOrEqual(atMost((p) => p.memoryRequest.mebibytes));
      }
    }
  });

  test('storage classes, node pools and the device plugin exactly where the environment defines them', () => {
    expect(objects.filter((o) => o.kind === 'StorageClass').map((o) => o.metadata.name).sort())
      .toEqual(environment.storageClasses.map((s) => s.name).sort());
    for (const sc of objects.filter((o) => o.kind === 'StorageClass')) {
      expect(sc).toMatchObject({ reclaimPolicy: 'Retain', volumeBindingMode: 'WaitForFirstConsumer' });
    }
    const pools = objects.filter((o) => o.kind === 'NodePool');
    expect(pools.length).toBe(environment.karpenterNodeClass ? environment.nodePools.length : 0);
    const hasGpu = environment.nodePools.some((p) => p.role === 'gpu');
    expect(has(objects, 'DaemonSet', 'nvidia-device-plugin')).toBe(hasGpu);
    if (hasGpu) {
      // Hardened and fenced: seccomp, read-only root, nothing added, and a namespace that denies all traffic.
      const pod = find(objects, 'DaemonSet', 'nvidia-device-plugin').spec.template.spec;
      expect(pod.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
      expect(pod.containers[0].securityContext).toEqual({
        allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
      });
      const deny = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.namespace === 'nvidia-device-plugin');
      expect(deny?.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    }
  });
});

describe('Karpenter node pools in prod', () => {
  const objects = synthObjects(PROD);
  test('GPU pool: arm64, GPU taint, GPU limit; latency pool: tainted and labelled for the static CPU manager', () => {
    const gpu = find(objects, 'NodePool', 'nautilus-gpu');
    expect(gpu.apiVersion).toBe('karpenter.sh/v1');
    expect(gpu.spec.template.spec.requirements).toContainEqual({ key: 'kubernetes.io/arch', operator: 'In', values: ['arm64'] });
    expect(gpu.spec.template.spec.taints).toEqual([{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }]);
    expect(gpu.spec.limits['nvidia.com/gpu']).toBeGreaterThan(0);
    const latency = find(objects, 'NodePool', 'nautilus-latency');
    expect(latency.spec.template.metadata.labels['nautilus.io/cpu-manager-policy']).toBe('static');
    expect(latency.spec.template.spec.taints).toEqual([{ key: 'nautilus.io/dedicated', value: 'latency', effect: 'NoSchedule' }]);
  });
});

describe.each([DEV, STAGING, PROD].map((e) => [e.name, e] as const))('network policies in %s', (_n, environment) => {
  const objects = synthObjects(environment);
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  const policy = (name: string, namespace: string) => policies.find((p) => p.metadata.name === name && p.metadata.namespace === namespace);

  test('default deny (ingress and egress) and DNS egress in every namespace', () => {
    for (const ns of Object.values(NAMESPACE_NAMES)) {
      expect(policy('default-deny', ns)!.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
      const dns = policy('allow-dns', ns)!.spec.egress[0];
      expect(dns.ports).toEqual([{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }]);
    }
  });

  test('allow rules are exactly the catalog dependencies (both directions)', () => {
    const engines = enabledEngines(PLATFORM_ENGINES, environment).map((e) => planEngine(e, environment));
    const byName = new Map(engines.map((p) => [p.engine.name, p]));
    const storeNamespace = NAMESPACE_NAMES.data;
    const peerName = (peer: K8sObject['spec']) => peer.podSelector?.matchLabels['app.kubernetes.io/name'] ?? `cidr:${peer.ipBlock?.cidr}`;
    for (const source of engines) {
      const egress = policy(`${source.engine.name}-egress`, source.namespace);
      const targets = [...source.engine.dependencies.engines, ...source.engine.dependencies.stores];
      if (targets.length === 0) {
        expect(egress).toBeUndefined();
        continue;
      }
      const allowed = egress!.spec.egress.map((rule: K8sObject['spec']) => `${peerName(rule.to[0])}:${rule.ports[0].port}`).sort();
      const expected = targets.map((t) => {
        const target = byName.get(t);
        if (!target) return `${t}:${PLATFORM_DATA_STORES[t as DataStoreName].port}`;
        const port = isService(target.engine) ? target.engine.workload.port : 0;
        return target.hostNetwork ? `cidr:${environment.nodeNetworkCidr}:${port}` : `${t}:${port}`;
      }).sort();
      expect(allowed).toEqual(expected);
      // And each target admits this source on its port.
      for (const t of targets) {
        const namespace = byName.get(t)?.namespace ?? storeNamespace;
        const ingress = policy(`${t}-ingress`, namespace)!;
        const admitted = ingress.spec.ingress.flatMap((rule: K8sObject['spec']) => rule.from.map(peerName));
        expect(admitted).toContain(source.hostNetwork ? `cidr:${environment.nodeNetworkCidr}` : source.engine.name);
      }
    }
  });

  test('nothing reaches a store unless it depends on it (frontend cannot reach TimescaleDB)', () => {
    const ingress = policy('timescaledb-ingress', NAMESPACE_NAMES.data)!;
    const admitted = ingress.spec.ingress.flatMap((r: K8sObject['spec']) => r.from.map((p: K8sObject['spec']) => p.podSelector?.matchLabels['app.kubernetes.io/name']));
    expect(admitted).not.toContain('frontend');
    expect(admitted).toContain('analytics');
  });

  test('Prometheus may scrape every engine port; the ingress controller reaches only public engines', () => {
    for (const plan of enabledEngines(PLATFORM_ENGINES, environment).filter(isService).map((e) => planEngine(e, environment))) {
      const rules = policy(`${plan.engine.name}-ingress`, plan.namespace)!.spec.ingress;
      const fromNamespace = (ns: string) => rules.some((r: K8sObject['spec']) =>
        r.from.some((p: K8sObject['spec']) => p.namespaceSelector?.matchLabels['kubernetes.io/metadata.name'] === ns && !p.podSelector));
      expect(fromNamespace(environment.monitoringNamespace)).toBe(true);
      expect(fromNamespace(environment.ingressNamespace)).toBe(plan.engine.publicIngress === true);
    }
  });
});
