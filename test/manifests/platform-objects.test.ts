import { PLATFORM_DATA_STORES } from '../../src/catalog/data-stores';
import { DATA_STORE_TITLES, DataStoreName } from '../../src/catalog/engine-spec';
import { Tier } from '../../src/catalog/tier';
import { DEV, PROD, STAGING } from '../../src/environments/platform-environments';
import { NAMESPACE_NAMES } from '../../src/planning/namespaces';
import { enabledEngines, isService, planDataStore, planEngine } from '../../src/planning/plan';
import { redisSentinel } from '../../src/planning/stores/redis';
import { K8sObject, PLATFORM_ENGINES, find, has, podSpecOf, synthObjects } from '../support/platform';

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
    // Replicas only where something replicates and fails over (Sentinel for Redis).
    expect(sts.spec.replicas).toBe(planDataStore(PLATFORM_DATA_STORES[name as DataStoreName], environment).replicas);
    const pod = sts.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, fsGroup: pod.securityContext.runAsUser });
    expect(pod.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(pod.priorityClassName).toBe('nautilus-data');
    expect(Object.keys(sts.spec.template.metadata.annotations)).toContain('nautilus.io/config-sha256');
  });

  test('Redis: redis-cli ping probes, AOF on, the password from the mounted Secret only', () => {
    const sts = find(objects, 'StatefulSet', 'redis');
    const pod = sts.spec.template.spec;
    const container = pod.containers[0];
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      expect(container[probe].exec.command.join(' ')).toContain('redis-cli');
      expect(container[probe].exec.command.join(' ')).toContain('/run/secrets/redis/password');
    }
    expect(container.command).toEqual(['/bin/sh', '/etc/redis/start.sh', 'server']);
    const config = find(objects, 'ConfigMap', 'redis-config').data;
    expect(config['redis.conf']).toMatch(/^appendonly yes$/m);
    expect(config['redis.conf']).toMatch(/^include \/run\/redis\/redis\.conf$/m);
    expect(pod.volumes).toContainEqual({ name: 'credentials', secret: { secretName: 'redis-credentials', defaultMode: 0o440 } });
    expect(pod.volumes).toContainEqual({ name: 'runtime', emptyDir: { medium: 'Memory', sizeLimit: expect.any(String) } });
    for (const c of pod.containers) {
      expect(c.env ?? []).toEqual([]);
      // The exporter reads the password file start.sh renders, not the Secret (test/manifests/store-monitoring.test.ts).
      if (c.name === 'metrics') continue;
      expect(c.volumeMounts).toContainEqual({ name: 'credentials', mountPath: '/run/secrets/redis', readOnly: true });
    }
  });

  const sentinel = redisSentinel(environment);
  if (!sentinel) {
    test('Redis: a single server, no Sentinel, no PodDisruptionBudget', () => {
      const sts = find(objects, 'StatefulSet', 'redis');
      expect(sts.spec.replicas).toBe(1);
      expect(sts.spec.template.spec.containers.map((c: { name: string }) => c.name)).toEqual(['redis', 'metrics']);
      expect(has(objects, 'PodDisruptionBudget', 'redis')).toBe(false);
      expect(find(objects, 'ConfigMap', 'redis-config').data['sentinel.conf']).toBeUndefined();
      const env = podSpecOf(objects, PLATFORM_ENGINES.find((e) => e.name === 'order-manager')!).containers[0].env;
      expect(env.map((v: { name: string }) => v.name)).toEqual(expect.arrayContaining(['NAUTILUS_REDIS_HOST', 'NAUTILUS_REDIS_PORT']));
    });
  } else {
    test('Redis: three members, each with a Sentinel (quorum 2), a preStop hand-over and a PDB of one', () => {
      const sts = find(objects, 'StatefulSet', 'redis');
      expect(sts.spec.replicas).toBe(3);
      const pod = sts.spec.template.spec;
      expect(pod.containers.map((c: { name: string }) => c.name)).toEqual(['redis', 'sentinel', 'metrics']);
      const [server, sentinelContainer] = pod.containers;
      expect(sentinelContainer.command).toEqual(['/bin/sh', '/etc/redis/start.sh', 'sentinel']);
      expect(sentinelContainer.ports).toEqual([{ name: 'sentinel', containerPort: 26379, protocol: 'TCP' }]);
      expect(server.lifecycle.preStop.exec.command).toEqual(['/bin/sh', '/etc/redis/pre-stop.sh']);
      const config = find(objects, 'ConfigMap', 'redis-config').data;
      expect(config['start.sh']).toContain('echo "sentinel monitor nautilus $primary 6379 2"');
      expect(config['start.sh']).toContain(`sentinel down-after-milliseconds nautilus ${sentinel.downAfter.milliseconds}`);
      expect(config['start.sh']).toContain('echo "replica-announce-ip $SELF"');
      expect(config['sentinel.conf']).toMatch(/^sentinel announce-hostnames yes$/m);
      expect(config['redis.conf']).toMatch(/^min-replicas-to-write 1$/m);
      expect(find(objects, 'PodDisruptionBudget', 'redis').spec).toEqual({
        maxUnavailable: 1, selector: { matchLabels: sts.spec.selector.matchLabels }, unhealthyPodEvictionPolicy: 'AlwaysAllow',
      });
      expect(pod.topologySpreadConstraints[0]).toMatchObject({ topologyKey: 'topology.kubernetes.io/zone', maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule' });
      // Clients reach Sentinel through the client Service; members reach each other.
      expect(find(objects, 'Service', 'redis').spec.ports.map((p: { port: number }) => p.port)).toEqual([6379, 26379]);
      const peers = find(objects, 'NetworkPolicy', 'redis-peers').spec;
      expect(peers.ingress[0].ports.map((p: { port: number }) => p.port)).toEqual([6379, 26379]);
      // Engines are told where Sentinel is and which master to ask for, never a fixed server.
      const env = podSpecOf(objects, PLATFORM_ENGINES.find((e) => e.name === 'order-manager')!).containers[0].env;
      expect(env).toContainEqual({ name: 'NAUTILUS_REDIS_SENTINELS', value: 'redis.nautilus-data.svc.cluster.local:26379' });
      expect(env).toContainEqual({ name: 'NAUTILUS_REDIS_MASTER_NAME', value: 'nautilus' });
      expect(env.map((v: { name: string }) => v.name)).not.toContain('NAUTILUS_REDIS_HOST');
      expect(find(objects, 'NetworkPolicy', 'order-manager-egress').spec.egress
        .find((rule: { ports: Array<{ port: number }> }) => rule.ports.some((p) => p.port === 26379)).ports.map((p: { port: number }) => p.port)).toEqual([6379, 26379]);
    });

    test('Redis: pinned where cores are pinned: Guaranteed, a whole CPU for the server, on the latency pool; Sentinel small', () => {
      const pod = find(objects, 'StatefulSet', 'redis').spec.template.spec;
      const [server, sentinelContainer] = pod.containers;
      for (const c of pod.containers) expect(c.resources.limits).toEqual(c.resources.requests);
      expect(String(server.resources.requests.cpu)).toBe('1');
      expect(millicores(sentinelContainer.resources.requests.cpu)).toBeLessThan(1000);
      const terms = pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions;
      expect(terms).toContainEqual({ key: 'nautilus.io/node-pool', operator: 'In', values: ['latency'] });
      expect(pod.tolerations).toContainEqual(expect.objectContaining({ key: 'nautilus.io/dedicated', value: 'latency' }));
      expect(pod.hostNetwork).toBeUndefined();
    });
  }

  test('no container passes a secret on its command line (command, args, probes, hooks)', () => {
    const workloadKinds = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'];
    const podSpecs = objects.filter((o) => workloadKinds.includes(o.kind)).flatMap((o) => {
      const spec = o.spec?.jobTemplate?.spec?.template?.spec ?? o.spec?.template?.spec;
      return spec ? [{ owner: `${o.kind} ${o.metadata.name}`, spec }] : [];
    });
    expect(podSpecs.length).toBeGreaterThan(10);
    const offending: string[] = [];
    for (const { owner, spec } of podSpecs) {
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        const secretVariables = (c.env ?? []).filter((v: { valueFrom?: { secretKeyRef?: unknown } }) => v.valueFrom?.secretKeyRef).map((v: { name: string }) => v.name);
        const argvs: string[][] = [
          [...(c.command ?? []), ...(c.args ?? [])],
          ...['startupProbe', 'livenessProbe', 'readinessProbe'].map((p) => c[p]?.exec?.command ?? []),
          c.lifecycle?.preStop?.exec?.command ?? [], c.lifecycle?.postStart?.exec?.command ?? [],
        ];
        for (const argv of argvs) {
          for (const arg of argv) {
            // $(VAR) is expanded by the kubelet into argv; a shell's "$VAR" is expanded inside it.
            for (const name of secretVariables) if (arg.includes(`$(${name})`)) offending.push(`${owner}/${c.name}: ${arg}`);
            if (/--(requirepass|masterauth|password)\b|\s-a\s/.test(arg)) offending.push(`${owner}/${c.name}: ${arg}`);
          }
        }
      }
    }
    expect(offending).toEqual([]);
  });

  test('no Secret and no credential value appears in the output', () => {
    expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
    const text = JSON.stringify(objects);
    expect(text).not.toMatch(/"(POSTGRES_PASSWORD|REDIS_PASSWORD|NAUTILUS_\w*PASSWORD)","value"/);
    // A password literal after requirepass/masterauth; the scripts write only printf's "%s".
    expect(text).not.toMatch(/(requirepass|masterauth|auth-pass \w+) ["']?[A-Za-z0-9]/);
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
    const data = find(objects, 'PriorityClass', 'nautilus-data');
    for (const tier of Tier.all()) expect(data.value).toBeGreaterThan(tier.priorityValue);
    // Named from the catalog's titles, so a new kind of store is named too.
    for (const title of Object.values(DATA_STORE_TITLES)) expect(data.description).toContain(title);
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
        // It runs as root (see cluster-foundation.ts), and says so.
        runAsNonRoot: false,
      });
      const deny = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.namespace === 'nvidia-device-plugin');
      // cdk8s-plus-27 lists Egress first; the order carries no meaning.
      expect(deny?.spec).toEqual({ podSelector: {}, policyTypes: ['Egress', 'Ingress'] });
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
      expect(policy('default-deny', ns)!.spec).toEqual({ podSelector: {}, policyTypes: ['Egress', 'Ingress'] });
      const dns = policy('allow-dns', ns)!.spec.egress[0];
      expect(dns.ports).toEqual([{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }]);
    }
  });

  test('allow rules are exactly the catalog dependencies (both directions)', () => {
    const engines = enabledEngines(PLATFORM_ENGINES, environment).map((e) => planEngine(e, environment));
    const byName = new Map(engines.map((p) => [p.engine.name, p]));
    const storeNamespace = NAMESPACE_NAMES.data;
    const peerName = (peer: K8sObject['spec']) => peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] ?? `cidr:${peer.ipBlock?.cidr}`;
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
    const admitted = ingress.spec.ingress.flatMap((r: K8sObject['spec']) => r.from.map((p: K8sObject['spec']) => p.podSelector?.matchLabels?.['app.kubernetes.io/name']));
    expect(admitted).not.toContain('frontend');
    expect(admitted).toContain('analytics');
  });

  test('Prometheus may scrape every engine port; the ingress controller reaches only public engines', () => {
    for (const plan of enabledEngines(PLATFORM_ENGINES, environment).filter(isService).map((e) => planEngine(e, environment))) {
      const rules = policy(`${plan.engine.name}-ingress`, plan.namespace)!.spec.ingress;
      const fromNamespace = (ns: string) => rules.some((r: K8sObject['spec']) =>
        r.from.some((p: K8sObject['spec']) => p.namespaceSelector?.matchLabels['kubernetes.io/metadata.name'] === ns && Object.keys(p.podSelector ?? {}).length === 0));
      expect(fromNamespace(environment.monitoringNamespace)).toBe(true);
      expect(fromNamespace(environment.externalAccess.controller.namespace)).toBe(plan.engine.publicRoute !== undefined);
    }
  });
});
