import { Construct } from 'constructs';
import { PrometheusRule, PrometheusRuleSpecGroupsRulesExpr } from '../../../imports/monitoring.coreos.com';
import { Tier } from '../../catalog/tier';
import { RUNTIME_METRICS } from '../../engines/runtime/metric-names';
import { EnvironmentSpec } from '../../environments/environment';
import { GPU_PRESENT_LABEL } from '../../environments/node-pool-policy';
import { Duration } from '../../model/duration';
import {
  AlertingRule, errorRatioQuery, latencyQuantileQuery, MONITORING_STACK, REQUESTS_PER_SECOND, SCRAPE_LABELS, trafficPathMatcher,
} from '../../planning/monitoring';
import { EdgePlan } from '../../planning/edge';
import { DEVICE_PLUGIN_NAMESPACE } from '../../planning/namespaces';
import { DataStorePlan, EnginePlan, isBatch, isService } from '../../planning/plan';
import { dataStoreAlerts } from './store-rules';

/** A recording rule: `expr` evaluated and stored as the series `record`. */
export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** An alerting rule: fires once `expr` has returned series for `for` (planned where the store kinds' alerts are). */
export type { AlertingRule } from '../../planning/monitoring';

/** A Prometheus rule group: the `groups[]` entry of a rule file and of a PrometheusRule's spec. */
export interface RuleGroup {
  readonly name: string;
  readonly rules: ReadonlyArray<RecordingRule | AlertingRule>;
}

/** True for an alerting rule. */
export function isAlertingRule(rule: RecordingRule | AlertingRule): rule is AlertingRule {
  return 'alert' in rule;
}

/** The series kube-state-metrics (part of kube-prometheus-stack) exports that the alerts read. */
export const KUBE_STATE_METRICS = {
  deploymentReady: 'kube_deployment_status_replicas_ready',
  deploymentDesired: 'kube_deployment_spec_replicas',
  hpaCurrent: 'kube_horizontalpodautoscaler_status_current_replicas',
  hpaCondition: 'kube_horizontalpodautoscaler_status_condition',
  podPhase: 'kube_pod_status_phase',
  cronJobNextSchedule: 'kube_cronjob_next_schedule_time',
  cronJobLastSchedule: 'kube_cronjob_status_last_schedule_time',
  cronJobLastSuccess: 'kube_cronjob_status_last_successful_time',
  nodeAllocatable: 'kube_node_status_allocatable',
} as const;

/**
 * The series the Argo Rollouts controller exports about each Rollout (labels `namespace` and
 * `name`, the Rollout's: its metrics must be scraped with `honorLabels`, or Prometheus renames
 * them to `exported_namespace`).
 */
export const ARGO_ROLLOUTS_METRICS = {
  available: 'rollout_info_replicas_available',
  desired: 'rollout_info_replicas_desired',
  updated: 'rollout_info_replicas_updated',
  info: 'rollout_info',
} as const;

/** Names of the recording rules; dashboards and alerts read these rather than raw series. */
export const RECORDED = {
  requestRate: 'service:nautilus_http_requests:rate1m',
  errorRate: 'service:nautilus_http_request_errors:rate1m',
  errorRatio: 'service:nautilus_http_request_error_ratio:rate5m',
  latencyQuantile: 'service:nautilus_http_request_duration_seconds:histogram_quantile5m',
} as const;

/** Latency quantiles recorded for every engine besides each tier's objective quantile. */
const RECORDED_QUANTILES = [0.5, 0.9, 0.99];

/** `name{a="x",b="y"}` with values quoted for PromQL. */
function selector(name: string, matchers: Readonly<Record<string, string>>, extra: readonly string[] = []): string {
  const parts = [...Object.entries(matchers).map(([label, value]) => `${label}=${JSON.stringify(value)}`), ...extra];
  return `${name}{${parts.join(',')}}`;
}

/** A regular expression matching exactly `values` (names are RFC 1123 labels: nothing to escape). */
function oneOf(values: readonly string[]): string {
  return [...values].sort().join('|');
}

/** Everything the rules of one environment are derived from. */
export interface PlatformRulesInput {
  readonly environment: EnvironmentSpec;
  readonly engines: readonly EnginePlan[];
  readonly stores: readonly DataStorePlan[];
  /** Paths left out of request rates, latency and error ratios: `nonTrafficPaths(catalog)`. */
  readonly nonTrafficPaths: readonly string[];
  /** The public engines' edge, whose certificate is watched; undefined when none is public. */
  readonly edge?: EdgePlan;
}

/** The series cert-manager's controller exports for every Certificate, as it names them. */
export const CERT_MANAGER_METRICS = {
  expiration: 'certmanager_certificate_expiration_timestamp_seconds',
  ready: 'certmanager_certificate_ready_status',
} as const;

/** How long cert-manager's series of a certificate may be missing before its alerts are known blind. */
const CERTIFICATE_UNMONITORED_AFTER = Duration.minutes(30);
/** A certificate this close to expiry pages: clients will see errors within days. */
const CERTIFICATE_CRITICAL_BEFORE = Duration.hours(7 * 24);

/** What every engine rule of one environment shares: its service engines, and the labels every alert carries. */
interface EngineRulesContext {
  readonly services: readonly EnginePlan[];
  readonly common: { readonly environment: string };
}

/** The recording rules per engine: request rate, errors, error ratio, and latency at every quantile an objective or panel reads. */
function trafficRecordingRules(tiers: readonly Tier[], nonTrafficPaths: readonly string[]): RuleGroup {
  const by = [SCRAPE_LABELS.namespace, SCRAPE_LABELS.engine];
  const traffic = trafficPathMatcher(nonTrafficPaths);
  const quantiles = [...new Set([...RECORDED_QUANTILES, ...tiers.map((tier) => tier.objectives.latencyQuantile)])].sort();
  const window = Duration.minutes(5);
  return {
    name: 'nautilus-engine-traffic',
    rules: [
      { record: RECORDED.requestRate, expr: `sum by (${by.join(', ')}) (rate(${RUNTIME_METRICS.requests}{${traffic}}[1m]))` },
      { record: RECORDED.errorRate, expr: `sum by (${by.join(', ')}) (rate(${RUNTIME_METRICS.requests}{${traffic},status=~"5.."}[1m]))` },
      { record: RECORDED.errorRatio, expr: errorRatioQuery(nonTrafficPaths, window, [], by) },
      ...quantiles.map((quantile) => ({
        record: RECORDED.latencyQuantile,
        expr: latencyQuantileQuery(quantile, nonTrafficPaths, window, [], by),
        labels: { quantile: String(quantile) },
      })),
    ],
  };
}

/** An engine down (fewer pods answering scrapes than its disruption budget's floor) or unavailable (ready replicas below it). */
function availabilityAlerts({ services, common }: EngineRulesContext): AlertingRule[] {
  return services.flatMap((plan) => {
    const name = plan.engine.name;
    // The PodDisruptionBudget's floor: replicas at rest less what a drain may take down (no PDB: all of them).
    const allowedDown = plan.disruptionBudget?.maxUnavailable ?? 0;
    const floor = plan.replicas - allowedDown;
    const labels = { ...common, severity: plan.engine.tier.severity, engine: name, tier: plan.engine.tier.name, namespace: plan.namespace };
    // A Rollout's pods are counted by the Argo Rollouts controller (its Deployment holds the
    // template only, at zero replicas); a Deployment's by kube-state-metrics.
    const released = plan.release.kind !== 'rolling';
    const [ready, desired, by] = released
      ? [ARGO_ROLLOUTS_METRICS.available, ARGO_ROLLOUTS_METRICS.desired, { namespace: plan.namespace, name }]
      : [KUBE_STATE_METRICS.deploymentReady, KUBE_STATE_METRICS.deploymentDesired, { namespace: plan.namespace, deployment: name }];
    const group = `sum by (${Object.keys(by).join(', ')})`;
    return [
      {
        alert: 'NautilusEngineDown',
        expr: `(sum(${selector('up', { [SCRAPE_LABELS.namespace]: plan.namespace, [SCRAPE_LABELS.engine]: name })}) or vector(0)) < ${floor}`,
        for: Duration.minutes(1),
        labels,
        annotations: {
          summary: `${name}: fewer than ${floor} of its pods answer Prometheus's scrapes`,
          description: `Prometheus scrapes {{ $value }} running ${name} pods in ${plan.namespace}; the engine needs at least ${floor} (${plan.replicas} at rest, ${allowedDown} may be down for a drain).`,
          runbook: `kubectl -n ${plan.namespace} get pods -l app.kubernetes.io/name=${name}; describe the pods that are not Running, read their last logs (kubectl logs --previous), check the node and the ServiceMonitor target in Prometheus.`,
        },
      },
      {
        alert: 'NautilusEngineUnavailable',
        expr: `${group} (${selector(ready, by)})\n< ${group} (${selector(desired, by)}) - ${allowedDown}`,
        for: Duration.minutes(3),
        labels,
        annotations: {
          summary: `${name}: ready replicas below its disruption budget's floor`,
          description: `${name} has {{ $value }} ready replicas in ${plan.namespace}, fewer than its desired count less ${allowedDown} (the PodDisruptionBudget's allowance).`,
          runbook: `${released ? `kubectl argo rollouts -n ${plan.namespace} get rollout ${name}` : `kubectl -n ${plan.namespace} rollout status deployment/${name}`}; kubectl -n ${plan.namespace} get pods -l app.kubernetes.io/name=${name} -o wide; failing readiness means a dependency is down (GET the readiness path).`,
        },
      },
    ];
  });
}

/** A tier's latency or error objective broken for as long as the tier allows, at the tier's severity. */
function objectiveAlerts({ services, common }: EngineRulesContext, tiers: readonly Tier[]): AlertingRule[] {
  return tiers.flatMap((tier) => {
    const members = oneOf(services.filter((plan) => plan.engine.tier.name === tier.name).map((plan) => plan.engine.name));
    const { latencyQuantile, errorRatio, breachedFor } = tier.objectives;
    // PromQL and the runtime's histogram count latency in seconds.
    const latency = tier.objectives.latency.toSeconds();
    const labels = { ...common, severity: tier.severity, tier: tier.name };
    const inTier = `${SCRAPE_LABELS.engine}=~"${members}"`;
    return [
      {
        alert: 'NautilusLatencyObjectiveBreached',
        expr: `${RECORDED.latencyQuantile}{quantile="${latencyQuantile}",${inTier}} > ${latency}`,
        for: breachedFor,
        labels,
        annotations: {
          summary: `{{ $labels.${SCRAPE_LABELS.engine} }}: ${latencyQuantile * 100}th percentile latency above the ${tier.name} objective of ${latency}s`,
          description: `{{ $labels.${SCRAPE_LABELS.engine} }} answers ${latencyQuantile * 100}% of requests within {{ $value }}s over 5 minutes; the ${tier.name} tier promises ${latency}s.`,
          runbook: 'Compare with the request rate (is it load?), the dependency check durations and the pod CPU; for pinned engines check nautilus_cpu_set_size (lost pinning) and the node.',
        },
      },
      {
        alert: 'NautilusErrorRatioHigh',
        expr: `${RECORDED.errorRatio}{${inTier}} > ${errorRatio}`,
        for: breachedFor,
        labels,
        annotations: {
          summary: `{{ $labels.${SCRAPE_LABELS.engine} }}: more than ${errorRatio * 100}% of requests fail`,
          description: `{{ $labels.${SCRAPE_LABELS.engine} }} answered {{ $value | humanizePercentage }} of its requests with a 5xx status over 5 minutes; the ${tier.name} tier allows ${errorRatio * 100}%.`,
          runbook: 'Read the engine\'s error logs (level "error", msg "request failed"), then its dependencies\' health (nautilus_dependency_up).',
        },
      },
    ];
  });
}

/** An autoscaler held at its maximum, or unable to read one of its metrics. */
function autoscalingAlerts({ services, common }: EngineRulesContext): AlertingRule[] {
  return services.filter((plan) => plan.autoscaling).flatMap((plan) => {
    const name = plan.engine.name;
    const max = plan.autoscaling!.maxReplicas;
    const labels = { ...common, severity: 'warning', engine: name, tier: plan.engine.tier.name, namespace: plan.namespace };
    const hpa = { namespace: plan.namespace, horizontalpodautoscaler: name };
    const atMaximumFor = Duration.minutes(30);
    return [
      {
        alert: 'NautilusAutoscalerAtMaximum',
        expr: `${selector(KUBE_STATE_METRICS.hpaCurrent, hpa)} >= ${max}`,
        for: atMaximumFor,
        labels,
        annotations: {
          summary: `${name}: autoscaler held at its maximum of ${max} replicas for ${atMaximumFor.toMinutes()} minutes`,
          description: `${name} has run {{ $value }} replicas, its HorizontalPodAutoscaler's maximum, for ${atMaximumFor.toMinutes()} minutes: more load arrives than it may scale for.`,
          runbook: 'Check the request rate and CPU against the HPA targets; raise maxReplicas in the engine catalog if the load is real (and the pool\'s maxNodes with it).',
        },
      },
      {
        // An HPA that cannot read one of its metrics (requests_per_second without the adapter) keeps
        // scaling up on the others but never scales down.
        alert: 'NautilusAutoscalerMetricUnavailable',
        expr: `${selector(KUBE_STATE_METRICS.hpaCondition, { ...hpa, condition: 'ScalingActive', status: 'false' })} == 1`,
        for: Duration.minutes(10),
        labels,
        annotations: {
          summary: `${name}: its autoscaler cannot read its metrics`,
          description: `${name}'s HorizontalPodAutoscaler reports ScalingActive=False: a metric it scales on (CPU from metrics-server, ${plan.autoscaling!.targetRequestsPerSecond !== undefined ? `${REQUESTS_PER_SECOND.name} from prometheus-adapter` : 'no custom metric'}) cannot be read, so it will not scale down.`,
          runbook: `kubectl -n ${plan.namespace} describe hpa ${name} (Conditions, Events); kubectl get apiservice v1beta1.custom.metrics.k8s.io; check the adapter's ConfigMap ${MONITORING_STACK.adapterConfigMap}.`,
        },
      },
    ];
  });
}

/** How long a release may wait paused (for a person, or on an inconclusive analysis) before someone is reminded. */
const RELEASE_PAUSED_TOO_LONG = Duration.hours(1);

/**
 * Releases through Argo Rollouts, from the controller's `rollout_info` (its `phase` label is the
 * controller's own: Completed, Progressing, Paused, Abort, Error, Timeout, InvalidSpec):
 * - aborted: a measurement broke the objectives (or a person aborted); the stable version serves,
 *   the new one must be looked at before it is released again: a warning;
 * - degraded: the Rollout is in error, past its progress deadline or invalid; the engine may not
 *   be fully serving: at the tier's severity;
 * - paused too long: a release waiting for a promotion (or stopped by a quiet, inconclusive
 *   analysis) for an hour, with both versions running.
 */
function releaseAlerts({ services, common }: EngineRulesContext): AlertingRule[] {
  const released = services.filter((plan) => plan.release.kind !== 'rolling');
  return released.flatMap((plan) => {
    const name = plan.engine.name;
    const labels = { ...common, engine: name, tier: plan.engine.tier.name, namespace: plan.namespace };
    const rollout = (phase: string) => selector(ARGO_ROLLOUTS_METRICS.info, { namespace: plan.namespace, name }, [`phase=~"${phase}"`]);
    const inspect = `kubectl argo rollouts -n ${plan.namespace} get rollout ${name}`;
    return [
      {
        alert: 'NautilusReleaseAborted',
        expr: `${rollout('Abort')} == 1`,
        for: Duration.seconds(0),
        labels: { ...labels, severity: 'warning' },
        annotations: {
          summary: `${name}: a release was aborted and the stable version restored`,
          description: `${name}'s new version broke its tier's objectives during its release (or was aborted by hand); the stable version serves. The new version's pods are gone.`,
          runbook: `${inspect} (the failed AnalysisRun names the metric and its values); fix the version, then release it again (nautilus deploy), or retry it after a false alarm (kubectl argo rollouts retry rollout ${name} -n ${plan.namespace}).`,
        },
      },
      {
        alert: 'NautilusReleaseDegraded',
        expr: `${rollout('Error|Timeout|InvalidSpec')} == 1`,
        for: Duration.minutes(5),
        labels: { ...labels, severity: plan.engine.tier.severity },
        annotations: {
          summary: `${name}: its Rollout is in error, past its progress deadline or invalid`,
          description: `${name}'s Rollout reports phase {{ $labels.phase }}: its pods may not all be serving.`,
          runbook: `${inspect}; kubectl -n ${plan.namespace} describe rollout ${name} (conditions, events): a missing Service or AnalysisTemplate, pods that never become ready, or quota.`,
        },
      },
      {
        alert: 'NautilusReleasePausedTooLong',
        expr: `${rollout('Paused')} == 1`,
        for: RELEASE_PAUSED_TOO_LONG,
        labels: { ...labels, severity: 'warning' },
        annotations: {
          summary: `${name}: a release has waited paused for ${RELEASE_PAUSED_TOO_LONG.toPrometheus()}`,
          description: `${name}'s release is paused, both versions running: it waits for a promotion, or its analysis was inconclusive (too few requests to judge).`,
          runbook: `${inspect}; promote it (nautilus promote ${common.environment} ${name}) or abort it (nautilus abort ${common.environment} ${name}).`,
        },
      },
    ];
  });
}

/** Pods the scheduler cannot place, and fewer allocatable GPUs than the GPU engines need at rest. */
function schedulingAlerts({ services, common }: EngineRulesContext, engines: readonly EnginePlan[], stores: readonly DataStorePlan[]): AlertingRule[] {
  const namespaces = oneOf([...new Set([...engines.map((plan) => plan.namespace), ...stores.map((plan) => plan.namespace)])]);
  const pendingFor = Duration.minutes(10);
  const scheduling: AlertingRule[] = [{
    alert: 'NautilusPodsPending',
    expr: `sum by (namespace, pod) (${selector(KUBE_STATE_METRICS.podPhase, { phase: 'Pending' }, [`namespace=~"${namespaces}"`])}) > 0`,
    for: pendingFor,
    labels: { ...common, severity: 'warning' },
    annotations: {
      summary: `{{ $labels.namespace }}/{{ $labels.pod }} has been Pending for ${pendingFor.toMinutes()} minutes`,
      description: 'The scheduler cannot place {{ $labels.pod }}: no node has the CPU, memory, hugepages or GPU it requests, or none matches its affinity and tolerations.',
      runbook: 'kubectl -n {{ $labels.namespace }} describe pod {{ $labels.pod }} (Events); check the node pool\'s capacity and whether Karpenter scaled it.',
    },
  }];
  const gpuEngines = services.filter((plan) => plan.gpus > 0);
  if (gpuEngines.length > 0) {
    const needed = gpuEngines.reduce((sum, plan) => sum + plan.replicas * plan.gpus, 0);
    scheduling.push({
      alert: 'NautilusGpuUnavailable',
      expr: `(sum(${selector(KUBE_STATE_METRICS.nodeAllocatable, { resource: 'nvidia_com_gpu' })}) or vector(0)) < ${needed}`,
      for: Duration.minutes(15),
      labels: { ...common, severity: 'critical', engine: oneOf(gpuEngines.map((plan) => plan.engine.name)) },
      annotations: {
        summary: `fewer than the ${needed} GPUs the GPU engines need at rest are allocatable`,
        description: 'The cluster offers {{ $value }} allocatable nvidia.com/gpu; the GPU engines need ' + `${needed} at rest.`,
        runbook: `kubectl get nodes -l ${GPU_PRESENT_LABEL}=true; check the NVIDIA device plugin pods (namespace ${DEVICE_PLUGIN_NAMESPACE}) and the GPU NodePool.`,
      },
    });
  }
  return scheduling;
}

/** How long past its schedule time a run may still not have started before it counts as missed. */
const CRON_RUN_LATE = Duration.minutes(10);

/** A batch engine's scheduled run not started, or not succeeded within its deadline. */
function batchAlerts({ common }: EngineRulesContext, engines: readonly EnginePlan[]): AlertingRule[] {
  return engines.filter((plan) => isBatch(plan.engine)).flatMap((plan) => {
    const name = plan.engine.name;
    const deadline = isBatch(plan.engine) ? plan.engine.workload.activeDeadline.toSeconds() : 0;
    const cronJob = { namespace: plan.namespace, cronjob: name };
    const labels = { ...common, severity: 'warning', engine: name, tier: plan.engine.tier.name, namespace: plan.namespace };
    const lastSchedule = `max by (namespace, cronjob) (${selector(KUBE_STATE_METRICS.cronJobLastSchedule, cronJob)})`;
    const lastSuccess = `max by (namespace, cronjob) (${selector(KUBE_STATE_METRICS.cronJobLastSuccess, cronJob)})`;
    return [
      {
        alert: 'NautilusCronJobMissed',
        // The controller moves the next schedule time forward when it starts a run: one left in
        // the past means a run was not started.
        expr: `time() - max by (namespace, cronjob) (${selector(KUBE_STATE_METRICS.cronJobNextSchedule, cronJob)}) > ${CRON_RUN_LATE.toSeconds()}`,
        for: Duration.minutes(5),
        labels,
        annotations: {
          summary: `${name}: a scheduled run did not start`,
          description: `${name}'s next schedule time passed {{ $value | humanizeDuration }} ago without a run starting.`,
          runbook: `kubectl -n ${plan.namespace} describe cronjob ${name} (Events): a suspended CronJob, a run still active (concurrencyPolicy Forbid) or a controller problem.`,
        },
      },
      {
        alert: 'NautilusCronJobFailed',
        expr: `(time() - ${lastSchedule} > ${deadline})\nunless on (namespace, cronjob)\n(${lastSuccess} >= on (namespace, cronjob) ${lastSchedule})`,
        for: Duration.minutes(5),
        labels,
        annotations: {
          summary: `${name}: the last scheduled run has not succeeded within its ${deadline}s deadline`,
          description: `${name}'s last run started {{ $value | humanizeDuration }} ago and has not completed successfully.`,
          runbook: `kubectl -n ${plan.namespace} get jobs -l app.kubernetes.io/name=${name}; read the failed pod's logs; the run is retried at the next schedule.`,
        },
      },
    ];
  });
}

/**
 * The edge certificate's alerts, on cert-manager's series. cert-manager renews `renewBefore` the
 * expiry, so a certificate with half that left has failed to renew for weeks (the ACME authority
 * or the company CA refusing, a challenge the routes do not reach); one not Ready for 15 minutes
 * cannot be issued at all; series missing mean cert-manager is not scraped and these alerts are blind.
 */
function edgeAlerts(edge: EdgePlan | undefined, common: EngineRulesContext['common']): AlertingRule[] {
  if (!edge) return [];
  const { certificate, namespace } = edge;
  const matchers = { namespace, name: certificate.name };
  const expiration = selector(CERT_MANAGER_METRICS.expiration, matchers);
  const labels = { ...common, namespace, certificate: certificate.name };
  const inspect = `kubectl -n ${namespace} describe certificate ${certificate.name} (conditions, events); kubectl -n ${namespace} get certificaterequests,orders,challenges; cert-manager's logs`;
  const expiring = (alert: string, before: Duration, severity: string): AlertingRule => ({
    alert,
    expr: `${expiration} - time() < ${before.toSeconds()}`,
    for: Duration.minutes(10),
    labels: { ...labels, severity },
    annotations: {
      summary: `certificate ${certificate.name} (${certificate.hosts.join(', ')}) expires in {{ $value | humanizeDuration }}`,
      description: `cert-manager should have renewed it ${certificate.renewBefore.toHours() / 24} days before expiry; it has not, and clients will be refused when it expires.`,
      runbook: `${inspect}: the issuer refusing, an HTTP-01 challenge the routes do not reach, or the CA's Secret missing.`,
    },
  });
  return [
    expiring('NautilusCertificateExpiringSoon', Duration.millis(certificate.renewBefore.milliseconds / 2), 'warning'),
    expiring('NautilusCertificateExpiring', CERTIFICATE_CRITICAL_BEFORE, 'critical'),
    {
      alert: 'NautilusCertificateNotReady',
      expr: `max by (namespace, name) (${selector(CERT_MANAGER_METRICS.ready, matchers, ['condition!="True"'])}) == 1`,
      for: Duration.minutes(15),
      labels: { ...labels, severity: 'warning' },
      annotations: {
        summary: `certificate ${certificate.name} is not Ready`,
        description: `cert-manager cannot issue or renew ${certificate.name}; the Gateway or Ingresses serve the last certificate issued, if any.`,
        runbook: `${inspect}.`,
      },
    },
    {
      alert: 'NautilusCertificateUnmonitored',
      expr: `absent(${expiration})`,
      for: CERTIFICATE_UNMONITORED_AFTER,
      labels: { ...labels, severity: 'warning' },
      annotations: {
        summary: `no cert-manager series for certificate ${certificate.name}`,
        description: 'Prometheus has no expiry for the certificate: cert-manager is not running, not scraped (its ServiceMonitor), or the Certificate is missing. Its expiry is not watched.',
        runbook: `kubectl -n ${namespace} get certificate ${certificate.name}; check cert-manager's pods and its ServiceMonitor in the monitoring stack.`,
      },
    },
  ];
}

/**
 * The recording and alerting rules of one environment, derived from its plans: recording rules per
 * engine (request rate, errors, error ratio, latency quantiles) and the alerts, each with its
 * severity, the engine or store, and a runbook line.
 */
export function platformRuleGroups(input: PlatformRulesInput): RuleGroup[] {
  const { environment, engines, stores } = input;
  const context: EngineRulesContext = { services: engines.filter((plan) => isService(plan.engine)), common: { environment: environment.name } };
  const tiers = Tier.all().filter((tier) => context.services.some((plan) => plan.engine.tier.name === tier.name));
  const autoscaling = autoscalingAlerts(context);
  const batch = batchAlerts(context, engines);
  const releases = releaseAlerts(context);
  return [
    trafficRecordingRules(tiers, input.nonTrafficPaths),
    { name: 'nautilus-engine-availability', rules: availabilityAlerts(context) },
    { name: 'nautilus-engine-objectives', rules: objectiveAlerts(context, tiers) },
    ...(autoscaling.length > 0 ? [{ name: 'nautilus-autoscaling', rules: autoscaling }] : []),
    ...(releases.length > 0 ? [{ name: 'nautilus-releases', rules: releases }] : []),
    { name: 'nautilus-scheduling', rules: schedulingAlerts(context, engines, stores) },
    ...(batch.length > 0 ? [{ name: 'nautilus-batch', rules: batch }] : []),
    { name: 'nautilus-data-stores', rules: dataStoreAlerts(environment, stores) },
    ...(input.edge ? [{ name: 'nautilus-edge', rules: edgeAlerts(input.edge, context.common) }] : []),
  ];
}

/**
 * An alert's `for` as Prometheus reads it. Zero (fire at once) is written `0m`, as the rules always
 * have: Prometheus reads it as `0s`, and the rendered rules stay as they were.
 */
function alertDelay(delay: Duration): string {
  return delay.milliseconds === 0 ? '0m' : delay.toPrometheus();
}

/**
 * The rule groups as PrometheusRule objects (one per group) in the monitoring stack's namespace,
 * labelled for kube-prometheus-stack's rule selector.
 */
export class PlatformRules extends Construct {
  /** The groups written, in order. */
  public readonly groups: readonly RuleGroup[];

  constructor(scope: Construct, id: string, props: PlatformRulesInput) {
    super(scope, id);
    this.groups = platformRuleGroups(props);
    for (const group of this.groups) {
      new PrometheusRule(this, group.name, {
        metadata: {
          name: group.name,
          namespace: props.environment.monitoringNamespace,
          labels: { ...MONITORING_STACK.ruleSelectorLabels, 'app.kubernetes.io/component': 'alerting' },
        },
        spec: {
          groups: [{
            name: group.name,
            rules: group.rules.map((rule) => isAlertingRule(rule)
              ? { alert: rule.alert, expr: PrometheusRuleSpecGroupsRulesExpr.fromString(rule.expr), for: alertDelay(rule.for), labels: rule.labels, annotations: rule.annotations }
              : { record: rule.record, expr: PrometheusRuleSpecGroupsRulesExpr.fromString(rule.expr), labels: rule.labels }),
          }],
        },
      });
    }
  }
}
