import { Duration } from '../model/duration';

/**
 * How a new version of an engine reaches its callers: a tier policy (tier.ts), which an engine's
 * catalog entry may override with a reason. Where an environment runs progressive delivery (an
 * Argo Rollouts controller, `EnvironmentSpec.progressiveDelivery`), `canary` and `blue-green`
 * engines become Rollouts; elsewhere every engine rolls as a plain Deployment.
 */
export type ReleasePolicy = RollingRelease | CanaryRelease | BlueGreenRelease;

/** A Deployment's rolling update at the tier's pace: no analysis, no pause. */
export interface RollingRelease {
  readonly kind: 'rolling';
}

/**
 * A canary by replica ratio: a share of the pods runs the new version while its own requests are
 * measured against the tier's objectives; a measurement that breaks them aborts the release and
 * the canary's pods are scaled away.
 */
export interface CanaryRelease {
  readonly kind: 'canary';
  /**
   * Shares of the pods that run the new version, one step each, rising, below 100: a percentage,
   * or `onePod` (the smallest canary there is, for engines whose pods cannot surge).
   */
  readonly steps: readonly CanaryStep[];
  /** How long each step is held (and measured) before the next. */
  readonly stepPause: Duration;
  /** The measurements, taken from the first step to the last. */
  readonly analysis: ReleaseAnalysis;
  /**
   * How the canary's share of requests is set: by the mesh's weights (`mesh`, where the
   * environment has one), or by its share of pods (`replicas`, which works everywhere).
   * @default mesh where the environment has one and the pods are on the pod network, replicas otherwise
   */
  readonly traffic?: 'mesh' | 'replicas';
}

/** One canary step: a share of the pods in percent, or exactly one pod. */
export type CanaryStep = { readonly percent: number } | { readonly onePod: true };

/**
 * Blue/green: the new colour starts beside the old one behind a preview Service, the active
 * Service is switched to it at promotion, then the new colour's own requests are measured; a
 * failed measurement switches the active Service back to the old colour, which is kept running
 * for `scaleDownDelay`.
 */
export interface BlueGreenRelease {
  readonly kind: 'blue-green';
  /** How long the old colour keeps running after the switch: longer than the analysis. */
  readonly scaleDownDelay: Duration;
  /** In an unattended environment, how long the new colour runs on the preview Service before the switch. */
  readonly previewFor: Duration;
  /** The measurements after the switch. */
  readonly analysis: ReleaseAnalysis;
  /** How many measurements are taken after the switch (a canary measures until its last step). */
  readonly measurements: number;
}

/**
 * How a release's measurements are taken. Each one reads only the new version's pods, over the
 * last `interval`, and compares them with the tier's objectives (error ratio, latency quantile).
 */
export interface ReleaseAnalysis {
  /** Time between measurements; also the window each one reads. At least four scrape intervals. */
  readonly interval: Duration;
  /**
   * Measurements that may break an objective before the release is aborted: 1 tolerates one
   * noisy window, so a bad version is aborted at the second failed measurement.
   */
  readonly failureLimit: number;
  /**
   * Requests the new version must have answered within a window for the window to count. Fewer
   * (a quiet market) is neither a failure nor a pass: the measurement is inconclusive and the
   * release waits, paused, for a person to promote or abort it.
   */
  readonly minimumRequests: number;
}

/** A catalog entry's release policy instead of its tier's, and why. */
export interface ReleaseOverride {
  readonly policy: ReleasePolicy;
  /** Why the engine does not release as its tier does (shown in the summary). */
  readonly reason: string;
}
