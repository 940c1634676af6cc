import { Cron, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  Container, DeploymentSpec, IntOrString, JobTemplateSpec, Probe, Quantity, SecurityContext, Volume, VolumeMount,
} from '../../../imports/k8s';
import { ENGINE_UID } from '../../catalog/engine-spec';
import { GPU_RESOURCE } from '../../environments/node-pool-policy';
import { Duration } from '../../model/duration';
import { countQuantity } from '../../model/quantities';
import { DataStorePlan, EnginePlan, isBatch, isService } from '../../planning/plan';
import { ENGINE_PRE_STOP, ENGINE_TERMINATION_GRACE, engineContainerEnv } from '../../planning/runtime-contract';
import { plusDuration } from '../durations';
import { envVariables } from '../environment-variables';
import { appendItem, completePlatformPod, setField, withoutPlusWorkloadDefaults } from '../escape-hatches';
import { componentLabels, selectorLabels } from '../labels';
import { schedule } from '../scheduling';
import { HTTP_PORT_NAME, engineMetadata } from './engine-metadata';

/** Properties of an {@link EngineWorkload}. */
export interface EngineWorkloadProps {
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
 * An engine's pods: its ServiceAccount and its workload, a Deployment for a service or a CronJob
 * for a batch engine, with the pod cdk8s-plus-27 models completed through typed escape hatches.
 */
export class EngineWorkload extends Construct {
  /** The Deployment of a service engine; undefined for a batch engine. */
  public readonly deployment?: kplus.Deployment;

  constructor(scope: Construct, id: string, props: EngineWorkloadProps) {
    super(scope, id);
    const { plan } = props;
    const engine = plan.engine;
    const serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: engineMetadata(plan), automountToken: false });
    const podLabels = componentLabels(engine.name, engine.tier.name);
    const podMetadata = { labels: podLabels, annotations: { 'nautilus.io/description': engine.description } };

    if (isBatch(engine)) {
      const batch = engine.workload;
      const [minute, hour, day, month, weekDay] = batch.schedule.split(' ');
      const cronJob = new kplus.CronJob(this, 'CronJob', {
        metadata: engineMetadata(plan),
        ...this.podProps(props, serviceAccount, kplus.RestartPolicy.NEVER),
        podMetadata,
        schedule: Cron.schedule({ minute, hour, day, month, weekDay }),
        timeZone: 'Etc/UTC',
        startingDeadline: plusDuration(batch.startingDeadline),
        concurrencyPolicy: kplus.ConcurrencyPolicy.FORBID,
        suspend: false,
        successfulJobsRetained: 3,
        failedJobsRetained: 3,
        backoffLimit: batch.backoffLimit,
        activeDeadline: plusDuration(batch.activeDeadline),
      });
      // cdk8s-plus-27 gives the Job template no metadata: label the Jobs like their pods.
      setField<JobTemplateSpec, 'metadata'>(cronJob, '/spec/jobTemplate', 'metadata', { labels: podLabels });
      this.completePodSpec(cronJob, '/spec/jobTemplate/spec/template', props);
      return;
    }

    const deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: engineMetadata(plan),
      ...this.podProps(props, serviceAccount, kplus.RestartPolicy.ALWAYS),
      podMetadata,
      select: false,
      // Released through a Rollout, the Deployment only holds the pod template (the Rollout's
      // workloadRef) and runs no pods. With an autoscaler the replica count is the autoscaler's:
      // leaving it out means re-applying the manifests never resets a scaled-out deployment.
      replicas: plan.release.kind !== 'rolling' ? 0 : plan.autoscaling ? undefined : plan.replicas,
      strategy: kplus.DeploymentStrategy.rollingUpdate({
        maxSurge: kplus.PercentOrAbsolute.absolute(plan.runtime.rollout.maxSurge),
        maxUnavailable: kplus.PercentOrAbsolute.absolute(plan.runtime.rollout.maxUnavailable),
      }),
      minReady: plusDuration(Duration.seconds(0)),
      progressDeadline: plusDuration(Duration.minutes(10)),
    });
    deployment.select(kplus.LabelSelector.of({ labels: selectorLabels(engine.name) }));
    // cdk8s-plus-27 has no revisionHistoryLimit.
    setField<DeploymentSpec, 'revisionHistoryLimit'>(deployment, '/spec', 'revisionHistoryLimit', 5);
    this.completePodSpec(deployment, '/spec/template', props);
    this.deployment = deployment;
  }

  /** What cdk8s-plus-27 models of the engine's pod: its container, volumes, identity, DNS and security. */
  private podProps({ plan, image, upstreams, stores }: EngineWorkloadProps, serviceAccount: kplus.ServiceAccount, restartPolicy: kplus.RestartPolicy): kplus.AbstractPodProps {
    const engine = plan.engine;
    const tmp = kplus.Volume.fromEmptyDir(this, 'TmpVolume', 'tmp', { sizeLimit: Size.mebibytes(256) });
    const serving: Partial<kplus.ContainerProps> = isService(engine)
      ? {
        ports: [{ name: HTTP_PORT_NAME, number: engine.workload.port, protocol: kplus.Protocol.TCP }],
        // Keep serving while the endpoint removal propagates (see ENGINE_PRE_STOP).
        lifecycle: { preStop: kplus.Handler.fromCommand(['sleep', String(ENGINE_PRE_STOP.toSeconds())]) },
        ...this.probes(plan, engine.workload.port, engine.workload.health.liveness, engine.workload.health.readiness,
          engine.workload.health.startupBudget),
      }
      : {};
    return {
      serviceAccount,
      automountServiceAccountToken: false,
      terminationGracePeriod: plusDuration(ENGINE_TERMINATION_GRACE),
      hostNetwork: plan.hostNetwork,
      dns: {
        policy: plan.hostNetwork ? kplus.DnsPolicy.CLUSTER_FIRST_WITH_HOST_NET : kplus.DnsPolicy.CLUSTER_FIRST,
        hostnameAsFQDN: false,
      },
      restartPolicy,
      securityContext: {
        ensureNonRoot: true,
        user: ENGINE_UID,
        group: ENGINE_UID,
        fsGroup: ENGINE_UID,
        fsGroupChangePolicy: kplus.FsGroupChangePolicy.ALWAYS,
      },
      containers: [{
        name: engine.name,
        ...serving,
        image,
        // Tags are content hashes: a tag never names two different images.
        imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
        envVariables: envVariables(this, engineContainerEnv(plan, upstreams, stores)),
        // Replaced in completePodSpec by the plan's exact quantities (with hugepages and GPUs).
        resources: {
          cpu: { request: kplus.Cpu.millis(plan.cpuRequest.millicores), limit: plan.cpuLimit ? kplus.Cpu.millis(plan.cpuLimit.millicores) : undefined },
          memory: { request: Size.mebibytes(plan.memoryRequest.mebibytes), limit: Size.mebibytes(plan.memoryLimit.mebibytes) },
        },
        volumeMounts: [{ path: '/tmp', volume: tmp }],
        securityContext: {
          allowPrivilegeEscalation: false,
          privileged: false,
          readOnlyRootFilesystem: true,
          ensureNonRoot: true,
        },
      }],
    };
  }

  /**
   * What cdk8s-plus-27 lacks of the engine's pod, through typed escape hatches on the pod template
   * at `template` (a JSON pointer), and what it adds that the pod must not have.
   */
  private completePodSpec(workload: kplus.Deployment | kplus.CronJob, template: string, { plan }: EngineWorkloadProps): void {
    const engine = plan.engine;
    const spec = `${template}/spec`;
    const container = `${spec}/containers/0`;
    withoutPlusWorkloadDefaults(workload, template, { hostNetwork: plan.hostNetwork, minReadySeconds: workload instanceof kplus.Deployment });
    // Engines find peers by DNS, not by injected service-link variables.
    completePlatformPod(workload, spec, { priorityClassName: engine.tier.priorityClassName, enableServiceLinks: false });

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
    // cdk8s-plus-27 has no hugepages-* or nvidia.com/gpu resources, and writes memory in Mi, which
    // the API server stores in its own units (1024Mi as 1Gi): the plan's quantities, as they are.
    setField<Container, 'resources'>(workload, container, 'resources', { requests, limits });
    // cdk8s-plus-27 writes capabilities with a CAP_ prefix; Kubernetes and the linters use bare names.
    setField<SecurityContext, 'capabilities'>(workload, `${container}/securityContext`, 'capabilities', {
      drop: ['ALL'],
      add: plan.runtime.addedCapabilities.length > 0 ? [...plan.runtime.addedCapabilities] : undefined,
    });
    if (plan.hugepages2Mi) {
      // cdk8s-plus-27's emptyDir has no HugePages medium.
      appendItem<Volume>(workload, `${spec}/volumes`, { name: 'hugepages', emptyDir: { medium: 'HugePages-2Mi' } });
      appendItem<VolumeMount>(workload, `${container}/volumeMounts`, { name: 'hugepages', mountPath: '/dev/hugepages' });
    }
    if (isService(engine)) {
      const { liveness, readiness } = engine.workload.health;
      // cdk8s-plus-27 probes take a port number only: probe the container port by name.
      for (const [probe, path] of [['startupProbe', liveness], ['livenessProbe', liveness], ['readinessProbe', readiness]] as const) {
        setField<Probe, 'httpGet'>(workload, `${container}/${probe}`, 'httpGet', { path, port: IntOrString.fromString(HTTP_PORT_NAME) });
      }
    }
    schedule(workload, spec, plan.pool, plan.replicas, selectorLabels(engine.name));
  }

  /** HTTP probes on the engine's port, at the tier's periods; startup gets the engine's whole warm-up budget. */
  private probes(plan: EnginePlan, port: number, liveness: string, readiness: string, startupBudget: Duration): Pick<kplus.ContainerProps, 'startup' | 'liveness' | 'readiness'> {
    const { startupPeriod, livenessPeriod, readinessPeriod, readinessFailureThreshold } = plan.runtime.probes;
    const http = (path: string, period: Duration, failureThreshold: number) => kplus.Probe.fromHttpGet(path, {
      port, periodSeconds: plusDuration(period), timeoutSeconds: plusDuration(Duration.seconds(1)), failureThreshold,
    });
    return {
      startup: http(liveness, startupPeriod, Math.ceil(startupBudget.milliseconds / startupPeriod.milliseconds)),
      liveness: http(liveness, livenessPeriod, 3),
      readiness: http(readiness, readinessPeriod, readinessFailureThreshold),
    };
  }
}
