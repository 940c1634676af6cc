import { Construct } from 'constructs';
import {
  Rollout, RolloutSpecStrategy, RolloutSpecStrategyCanaryAnalysisArgs, RolloutSpecStrategyCanaryMaxSurge,
  RolloutSpecStrategyCanaryMaxUnavailable, RolloutSpecStrategyCanarySteps, RolloutSpecStrategyCanaryStepsPauseDuration,
} from '../../../imports/argoproj.io';
import { Duration } from '../../model/duration';
import { EnginePlan } from '../../planning/plan';
import { AnalysisPlan, BlueGreenPlan, CanaryPlan } from '../../planning/release';
import { selectorLabels } from '../labels';
import { ANALYSIS_POD_TEMPLATE_HASH } from './engine-analysis';
import { engineMetadata } from './engine-metadata';

/** Properties of an {@link EngineRollout}. */
export interface EngineRolloutProps {
  /** The engine as it runs in this environment. */
  readonly plan: EnginePlan;
  /** How it is released: a canary or blue/green plan. */
  readonly release: CanaryPlan | BlueGreenPlan;
  /** The Deployment whose pod template the Rollout runs (kept at zero replicas). */
  readonly deploymentName: string;
}

/**
 * An engine's Argo Rollout. It runs the pod template of the engine's Deployment through
 * `workloadRef` (the controller reads the template from there; the Deployment itself stays at
 * zero replicas), so the pod is still written once, by cdk8s-plus, and checked like every other.
 * Replicas, where the engine autoscales, are its HorizontalPodAutoscaler's, which targets the
 * Rollout.
 *
 * @see https://argo-rollouts.readthedocs.io/en/stable/features/specification/
 * @see https://argo-rollouts.readthedocs.io/en/stable/migrating/#reference-deployment-from-rollout
 */
export class EngineRollout extends Construct {
  /** The Rollout object. */
  public readonly rollout: Rollout;

  constructor(scope: Construct, id: string, props: EngineRolloutProps) {
    super(scope, id);
    const { plan, release } = props;
    this.rollout = new Rollout(this, 'Rollout', {
      metadata: engineMetadata(plan),
      spec: {
        // With an autoscaler the replica count is the autoscaler's (as for a Deployment).
        replicas: plan.autoscaling ? undefined : plan.replicas,
        selector: { matchLabels: selectorLabels(plan.engine.name) },
        // `never`: the Deployment is kept at zero replicas by the manifests themselves, so the
        // controller has nothing to scale there and the deploy tool nothing to fight over.
        workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: props.deploymentName, scaleDown: 'never' },
        revisionHistoryLimit: 5,
        progressDeadlineSeconds: Duration.minutes(10).toSeconds(),
        // A release that stops progressing is aborted (back to the stable version) rather than left half done.
        progressDeadlineAbort: true,
        strategy: release.kind === 'canary' ? canaryStrategy(release) : blueGreenStrategy(release),
      },
    });
  }
}

/** The AnalysisTemplate reference and argument of a release: the new version's pods, by their pod template hash. */
function analysisReference(analysis: AnalysisPlan): { templates: Array<{ templateName: string }>; args: RolloutSpecStrategyCanaryAnalysisArgs[] } {
  return {
    templates: [{ templateName: analysis.templateName }],
    args: [{ name: ANALYSIS_POD_TEMPLATE_HASH, valueFrom: { podTemplateHashValue: 'Latest' } }],
  };
}

/** setWeight and a timed pause per step; where a person promotes, the last pause waits for them. */
function canaryStrategy(release: CanaryPlan): RolloutSpecStrategy {
  const steps: RolloutSpecStrategyCanarySteps[] = release.weights.flatMap((weight, index) => {
    const last = index === release.weights.length - 1;
    return [
      { setWeight: weight },
      { pause: last && release.awaitsPromotion ? {} : { duration: RolloutSpecStrategyCanaryStepsPauseDuration.fromString(release.stepPause.toPrometheus()) } },
    ];
  });
  const traffic = release.traffic;
  return {
    canary: {
      maxSurge: RolloutSpecStrategyCanaryMaxSurge.fromNumber(release.maxSurge),
      maxUnavailable: RolloutSpecStrategyCanaryMaxUnavailable.fromNumber(release.maxUnavailable),
      steps,
      // On a mesh the weights are the VirtualService's (and the canary's pods follow them); without
      // one, the step's weight is the canary's share of pods.
      trafficRouting: traffic.kind === 'mesh'
        ? {
          istio: {
            virtualService: { name: traffic.name, routes: [traffic.route] },
            destinationRule: { name: traffic.name, stableSubsetName: traffic.stableSubset, canarySubsetName: traffic.canarySubset },
          },
        }
        : undefined,
      // Measured in the background from the first step's pause (step 1) to the end: a failed
      // measurement aborts the release at whatever step it is.
      analysis: { ...analysisReference(release.analysis), startingStep: 1 },
    },
  };
}

/** Active and preview Services; automatic promotion after the preview time where nobody promotes. */
function blueGreenStrategy(release: BlueGreenPlan): RolloutSpecStrategy {
  return {
    blueGreen: {
      activeService: release.activeService,
      previewService: release.previewService,
      autoPromotionEnabled: release.autoPromotionAfter !== undefined,
      autoPromotionSeconds: release.autoPromotionAfter?.toSeconds(),
      scaleDownDelaySeconds: release.scaleDownDelay.toSeconds(),
      // Measured once the new colour takes the active Service's traffic; a failure switches it
      // back to the old colour, still running for the scale-down delay.
      postPromotionAnalysis: analysisReference(release.analysis),
    },
  };
}
