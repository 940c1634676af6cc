import { EngineSpec } from '../catalog/engine-spec';
import { CanaryStep, ReleaseAnalysis, ReleasePolicy } from '../catalog/release';
import { ServiceObjectives } from '../catalog/tier';
import { EnvironmentSpec } from '../environments/environment';
import { Duration } from '../model/duration';
import { MONITORING_STACK } from './monitoring';
import { NAMESPACE_NAMES, serviceHost } from './namespaces';

/**
 * How one engine's new versions are released in one environment: a rolling Deployment, or a
 * Rollout (canary or blue/green) measured by an analysis. Decided from the tier's policy (or the
 * catalog's override), the environment's progressive delivery setting and the replica count.
 */
export type ReleasePlan = RollingPlan | CanaryPlan | BlueGreenPlan;

/** A plain Deployment rolling update. */
export interface RollingPlan {
  readonly kind: 'rolling';
  /** Why the engine rolls where its policy says otherwise (shown in the summary); absent when the policy is rolling. */
  readonly because?: string;
}

/** A canary by replica ratio (an Argo Rollout). */
export interface CanaryPlan {
  readonly kind: 'canary';
  /** The canary's share of the pods at each step, percent, rising, below 100. */
  readonly weights: readonly number[];
  /** How long each step is held; the last one waits for a promotion instead where the environment is attended. */
  readonly stepPause: Duration;
  /** Whether the last step waits for a person's promotion. */
  readonly awaitsPromotion: boolean;
  /** Pods above the desired count, and below it, while steps change (the tier's rollout pace). */
  readonly maxSurge: number;
  readonly maxUnavailable: number;
  readonly analysis: AnalysisPlan;
  /** How the canary's share of requests is set. */
  readonly traffic: CanaryTraffic;
}

/** A canary's requests: by its share of pods, or by weights on the mesh's routes. */
export type CanaryTraffic = { readonly kind: 'replicas' } | MeshRouting;

/**
 * Weighted routes on an Istio mesh: a VirtualService whose route `route` sends `weight` % to the
 * DestinationRule's canary subset and the rest to its stable subset. The controller writes the
 * weights at each step and the pod template hashes into the subsets' labels.
 */
export interface MeshRouting {
  readonly kind: 'mesh';
  readonly mesh: 'istio';
  /** The VirtualService and the DestinationRule: named like the engine. */
  readonly name: string;
  /** The host clients call: the engine's Service, by its full name (clients call from other namespaces too). */
  readonly host: string;
  /** The VirtualService's HTTP route the controller edits. */
  readonly route: string;
  readonly stableSubset: string;
  readonly canarySubset: string;
}

/** Blue/green (an Argo Rollout with an active and a preview Service). */
export interface BlueGreenPlan {
  readonly kind: 'blue-green';
  /** The Service clients use: the engine's own; the controller points it at the active colour. */
  readonly activeService: string;
  /** The Service of the new colour before the switch. */
  readonly previewService: string;
  /** How long the new colour runs on the preview before the switch; absent where a person promotes. */
  readonly autoPromotionAfter?: Duration;
  /** How long the old colour keeps running after the switch. */
  readonly scaleDownDelay: Duration;
  readonly analysis: AnalysisPlan;
}

/**
 * The measurements of a release: the new version's pods only, against its tier's objectives, from
 * the Prometheus the environment names. One AnalysisTemplate per engine (an engine may override its
 * tier's policy, measurements included).
 */
export interface AnalysisPlan extends ReleaseAnalysis {
  /** The AnalysisTemplate's name, in the engine's namespace. */
  readonly templateName: string;
  /** What the measurements compare with: the tier's objectives, as its alerts do. */
  readonly objectives: ServiceObjectives;
  /** Prometheus's URL as the controller reaches it. */
  readonly prometheusAddress: string;
  /** Measurements before the run ends: a blue/green release's; a canary's run lasts until its last step. */
  readonly count?: number;
}

/** The AnalysisTemplate an engine's releases are measured by. */
export function analysisTemplateName(engineName: string): string {
  return `${engineName}-release`;
}

/** The preview Service of a blue/green engine. */
export function previewServiceName(engineName: string): string {
  return `${engineName}-preview`;
}

/** The release policy an engine follows: its catalog override, or its tier's. */
export function releasePolicyOf(engine: EngineSpec): ReleasePolicy {
  return engine.release?.policy ?? engine.tier.release;
}

/** The Prometheus an environment's analyses query. */
export function analysisPrometheus(environment: EnvironmentSpec): string {
  const stack = MONITORING_STACK.prometheusService;
  return environment.progressiveDelivery?.prometheusAddress
    ?? `http://${serviceHost(stack.name, environment.monitoringNamespace)}:${stack.port}`;
}

/** A canary step's share of `replicas` pods, percent: `onePod` is the share the controller rounds to one pod. */
export function canaryWeight(step: CanaryStep, replicas: number): number {
  return 'percent' in step ? step.percent : Math.floor(100 / replicas);
}

/**
 * Resolves an engine's release in an environment. A service engine follows its policy where the
 * environment runs progressive delivery; a canary needs two pods at rest (with one, its first step
 * would be the whole release), so a single-replica canary engine rolls, and says why.
 */
export function planRelease(
  engine: EngineSpec, environment: EnvironmentSpec, replicas: number, rollout: { readonly maxSurge: number; readonly maxUnavailable: number },
): ReleasePlan {
  const policy = releasePolicyOf(engine);
  const delivery = environment.progressiveDelivery;
  if (policy.kind === 'rolling' || engine.workload.kind !== 'service') return { kind: 'rolling' };
  if (!delivery) return { kind: 'rolling', because: `${environment.name} runs no progressive delivery` };
  const analysis: AnalysisPlan = {
    ...policy.analysis,
    templateName: analysisTemplateName(engine.name),
    objectives: engine.tier.objectives,
    prometheusAddress: analysisPrometheus(environment),
  };
  if (policy.kind === 'blue-green') {
    return {
      kind: 'blue-green',
      activeService: engine.name,
      previewService: previewServiceName(engine.name),
      autoPromotionAfter: delivery.attended ? undefined : policy.previewFor,
      scaleDownDelay: policy.scaleDownDelay,
      analysis: { ...analysis, count: policy.measurements },
    };
  }
  if (replicas < 2) return { kind: 'rolling', because: `a canary needs two pods at rest and ${environment.name} runs ${replicas}` };
  return {
    traffic: canaryTraffic(engine, environment, policy.traffic),
    kind: 'canary',
    weights: policy.steps.map((step) => canaryWeight(step, replicas)),
    stepPause: policy.stepPause,
    awaitsPromotion: delivery.attended,
    maxSurge: rollout.maxSurge,
    maxUnavailable: rollout.maxUnavailable,
    analysis,
  };
}

/**
 * How a canary's requests are split: by the mesh where the environment has one, unless the policy
 * asks for replicas, or the engine's pods are on the host network (a mesh's sidecar proxies only
 * pod-network pods, so weights would not reach them).
 */
function canaryTraffic(engine: EngineSpec, environment: EnvironmentSpec, asked: 'mesh' | 'replicas' | undefined): CanaryTraffic {
  const mesh = environment.progressiveDelivery?.mesh;
  if (asked === 'replicas') return { kind: 'replicas' };
  if (!mesh) return { kind: 'replicas' };
  if (engine.tier.hostNetwork) return { kind: 'replicas' };
  return {
    kind: 'mesh', mesh, name: engine.name, host: serviceHost(engine.name, NAMESPACE_NAMES[engine.tier.namespaceRole]),
    route: 'primary', stableSubset: 'stable', canarySubset: 'canary',
  };
}
