import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  Container, IntOrString, KubeCronJob, KubeDeployment, KubeHorizontalPodAutoscalerV2, KubePodDisruptionBudget,
  MetricSpecV2, PodSpec, Probe, Quantity, ServicePort, Volume, VolumeMount,
} from '../../imports/k8s';
import { ServiceMonitor } from '../../imports/monitoring.coreos.com';
import { GPU_RESOURCE } from '../environments/node-pool-policy';
import { countQuantity } from '../model/quantities';
import { REQUESTS_PER_SECOND } from '../planning/monitoring';
import { DataStorePlan, EnginePlan, isBatch, isService } from '../planning/plan';
import { ENGINE_PRE_STOP_SECONDS, ENGINE_TERMINATION_GRACE_SECONDS, ENGINE_UID, engineContainerEnv } from '../planning/runtime-contract';
import { service, setField } from './escape-hatches';
import { componentLabels, selectorLabels } from './labels';
import { placement } from './scheduling';

export { ENGINE_UID };

/** Port name of every engine's HTTP port (API, probes, metrics). */
export const HTTP_PORT_NAME = 'http';

/** Properties of an {@link Engine}. */
export interface EngineProps {
  /** The engine as it runs in this environment. */
  readonly plan: EnginePlan;
  /** The full image reference (`repo:tag` or `repo:tag@sha256:...`). */
  readonly image: string;
  /** Plans of the engines this one calls, for their connection settings. */
  readonly upstreams: readonly EnginePlan[];
  /** The environment's data stores, for the connection settings of those the engine uses. */
  readonly stores: readonly DataStorePlan[];
}

/**
 * One engine in one environment: its workload (Deployment, or CronJob for batch engines), Service,
 * ServiceAccount, PodDisruptionBudget, HorizontalPodAutoscaler and ServiceMonitor, each where the
 * plan calls for it.
 */
export class Engine extends Construct {
  constructor(scope: Construct, id: string, props: EngineProps) {
    super(scope, id);
    const { plan } = props;
    const engine = plan.engine;
    // Every object of the engine shares its name: Service DNS names are a contract.
    const metadata = () => ({ name: engine.name, namespace: plan.namespace, labels: componentLabels(engine.name, engine.tier.name) });

    new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: metadata(), automountToken: false });

    const podSpec = this.podSpec(props);
    const podLabels = componentLabels(engine.name, engine.tier.name);
    const podAnnotations = { 'nautilus.io/description': engine.description };

    if (isBatch(engine)) {
      const batch = engine.workload;
      new KubeCronJob(this, 'CronJob', {
        metadata: metadata(),
        spec: {
          schedule: batch.schedule,
          timeZone: 'Etc/UTC',
          startingDeadlineSeconds: batch.startingDeadlineSeconds,
          concurrencyPolicy: 'Forbid',
          successfulJobsHistoryLimit: 3,
          failedJobsHistoryLimit: 3,
          jobTemplate: {
            metadata: { labels: podLabels },
            spec: {
              backoffLimit: batch.backoffLimit,
              activeDeadlineSeconds: batch.activeDeadlineSeconds,
              template: {
                metadata: { labels: podLabels, annotations: podAnnotations },
                spec: { ...podSpec, restartPolicy: 'Never' },
              },
            },
          },
        },
      });
      return;
    }
    if (!isService(engine)) return;

    const workload = engine.workload;
    new KubeDeployment(this, 'Deployment', {
      metadata: metadata(),
      spec: {
        // With an autoscaler the replica count is the autoscaler's: leaving it out means
        // re-applying the manifests never resets a scaled-out deployment.
        replicas: plan.autoscaling ? undefined : plan.replicas,
        revisionHistoryLimit: 5,
        selector: { matchLabels: selectorLabels(engine.name) },
        strategy: {
          type: 'RollingUpdate',
          rollingUpdate: {
            maxSurge: IntOrString.fromNumber(plan.runtime.rollout.maxSurge),
            maxUnavailable: IntOrString.fromNumber(plan.runtime.rollout.maxUnavailable),
          },
        },
        template: { metadata: { labels: podLabels, annotations: podAnnotations }, spec: podSpec },
      },
    });

    const engineService = service(this, 'Service', {
      metadata: metadata(),
      type: kplus.ServiceType.CLUSTER_IP,
      selector: kplus.Pods.select(this, 'ServicePods', { labels: selectorLabels(engine.name) }),
      ports: [{ name: HTTP_PORT_NAME, port: workload.port, protocol: kplus.Protocol.TCP }],
    });
    // cdk8s-plus-27 takes a numeric target port only: target the container port by name, so the
    // Service follows the container's port.
    setField<ServicePort, 'targetPort'>(engineService, '/spec/ports/0', 'targetPort', IntOrString.fromString(HTTP_PORT_NAME));

    if (plan.replicas > 1) {
      new KubePodDisruptionBudget(this, 'DisruptionBudget', {
        metadata: metadata(),
        spec: {
          maxUnavailable: IntOrString.fromNumber(plan.maxUnavailable),
          selector: { matchLabels: selectorLabels(engine.name) },
          // A pod that is not Ready serves nothing; letting a drain evict it cannot hurt.
          unhealthyPodEvictionPolicy: 'AlwaysAllow',
        },
      });
    }

    if (plan.autoscaling) {
      const metrics: MetricSpecV2[] = [{
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: plan.autoscaling.targetCpuUtilization } },
      }];
      if (plan.autoscaling.targetRequestsPerSecond !== undefined) {
        metrics.push({
          type: 'Pods',
          pods: {
            metric: { name: REQUESTS_PER_SECOND.name },
            target: { type: 'AverageValue', averageValue: Quantity.fromString(countQuantity(plan.autoscaling.targetRequestsPerSecond)) },
          },
        });
      }
      new KubeHorizontalPodAutoscalerV2(this, 'Autoscaler', {
        metadata: metadata(),
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: engine.name },
          minReplicas: plan.autoscaling.minReplicas,
          maxReplicas: plan.autoscaling.maxReplicas,
          metrics,
          behavior: {
            // Load spikes in trading are sudden: add pods at once. Remove them slowly, one at a
            // time, after ten quiet minutes, so a lull between bursts does not shed capacity.
            scaleUp: {
              stabilizationWindowSeconds: 0,
              selectPolicy: 'Max',
              policies: [
                { type: 'Percent', value: 100, periodSeconds: 15 },
                { type: 'Pods', value: 4, periodSeconds: 15 },
              ],
            },
            scaleDown: {
              stabilizationWindowSeconds: 600,
              selectPolicy: 'Min',
              policies: [{ type: 'Pods', value: 1, periodSeconds: 120 }],
            },
          },
        },
      });
    }

    new ServiceMonitor(this, 'ServiceMonitor', {
      metadata: metadata(),
      spec: {
        selector: { matchLabels: selectorLabels(engine.name) },
        endpoints: [{ port: HTTP_PORT_NAME, path: '/metrics', interval: plan.runtime.scrapeInterval }],
      },
    });
  }

  private podSpec({ plan, image, upstreams, stores }: EngineProps): PodSpec {
    const engine = plan.engine;
    const limits: Record<string, Quantity> = { memory: Quantity.fromString(plan.memoryLimit.toQuantity()) };
    const requests: Record<string, Quantity> = {
      cpu: Quantity.fromString(plan.cpuRequest.toQuantity()),
      memory: Quantity.fromString(plan.memoryRequest.toQuantity()),
    };
    if (plan.cpuLimit) limits.cpu = Quantity.fromString(plan.cpuLimit.toQuantity());
    if (plan.hugepages2Mi) {
      requests['hugepages-2Mi'] = limits['hugepages-2Mi'] = Quantity.fromString(plan.hugepages2Mi.toQuantity());
    }
    if (plan.gpus > 0) limits[GPU_RESOURCE] = Quantity.fromString(countQuantity(plan.gpus));

    const volumes: Volume[] = [{ name: 'tmp', emptyDir: { sizeLimit: Quantity.fromString('256Mi') } }];
    const volumeMounts: VolumeMount[] = [{ name: 'tmp', mountPath: '/tmp' }];
    if (plan.hugepages2Mi) {
      volumes.push({ name: 'hugepages', emptyDir: { medium: 'HugePages-2Mi' } });
      volumeMounts.push({ name: 'hugepages', mountPath: '/dev/hugepages' });
    }

    const serving: Partial<Container> = isService(engine)
      ? {
        ports: [{ name: HTTP_PORT_NAME, containerPort: engine.workload.port, protocol: 'TCP' }],
        // Keep serving while the endpoint removal propagates (see ENGINE_PRE_STOP_SECONDS).
        lifecycle: { preStop: { exec: { command: ['sleep', String(ENGINE_PRE_STOP_SECONDS)] } } },
        ...this.probes(plan, engine.workload.health.liveness, engine.workload.health.readiness,
          engine.workload.health.startupBudgetSeconds),
      }
      : {};
    const container: Container = {
      name: engine.name,
      ...serving,
      image,
      // Tags are content hashes: a tag never names two different images.
      imagePullPolicy: 'IfNotPresent',
      env: engineContainerEnv(plan, upstreams, stores),
      resources: { requests, limits },
      volumeMounts,
      securityContext: {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: {
          drop: ['ALL'],
          add: plan.runtime.addedCapabilities.length > 0 ? [...plan.runtime.addedCapabilities] : undefined,
        },
      },
    };

    return {
      serviceAccountName: engine.name,
      automountServiceAccountToken: false,
      priorityClassName: engine.tier.priorityClassName,
      terminationGracePeriodSeconds: ENGINE_TERMINATION_GRACE_SECONDS,
      hostNetwork: plan.hostNetwork || undefined,
      dnsPolicy: plan.hostNetwork ? 'ClusterFirstWithHostNet' : undefined,
      enableServiceLinks: false,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: ENGINE_UID,
        runAsGroup: ENGINE_UID,
        fsGroup: ENGINE_UID,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      ...placement(plan.pool, plan.replicas, selectorLabels(engine.name)),
      containers: [container],
      volumes,
    };
  }

  /** HTTP probes on the engine's port, at the tier's periods; startup gets the engine's whole warm-up budget. */
  private probes(plan: EnginePlan, liveness: string, readiness: string, startupBudgetSeconds: number): Pick<Container, 'startupProbe' | 'livenessProbe' | 'readinessProbe'> {
    const { startupPeriodSeconds, livenessPeriodSeconds, readinessPeriodSeconds, readinessFailureThreshold } = plan.runtime.probes;
    const http = (path: string): Probe['httpGet'] => ({ path, port: IntOrString.fromString(HTTP_PORT_NAME) });
    return {
      startupProbe: { httpGet: http(liveness), periodSeconds: startupPeriodSeconds, timeoutSeconds: 1, failureThreshold: Math.ceil(startupBudgetSeconds / startupPeriodSeconds) },
      livenessProbe: { httpGet: http(liveness), periodSeconds: livenessPeriodSeconds, timeoutSeconds: 1, failureThreshold: 3 },
      readinessProbe: { httpGet: http(readiness), periodSeconds: readinessPeriodSeconds, timeoutSeconds: 1, failureThreshold: readinessFailureThreshold },
    };
  }
}
