import { Construct } from 'constructs';
import {
  AnalysisTemplate, AnalysisTemplateSpecMetrics, AnalysisTemplateSpecMetricsConsecutiveErrorLimit, AnalysisTemplateSpecMetricsCount,
  AnalysisTemplateSpecMetricsFailureLimit, AnalysisTemplateSpecMetricsInconclusiveLimit,
} from '../../../imports/argoproj.io';
import { errorRatioQuery, latencyQuantileQuery, requestCountQuery, SCRAPE_LABELS } from '../../planning/monitoring';
import { EnginePlan } from '../../planning/plan';
import { AnalysisPlan } from '../../planning/release';
import { componentLabels } from '../labels';

/** The argument a Rollout passes its AnalysisTemplate: the pod template hash of the version under test. */
export const ANALYSIS_POD_TEMPLATE_HASH = 'pod-template-hash';

/** The names of an engine's release measurements (AnalysisRun metrics; `nautilus status` shows them). */
export const ANALYSIS_METRICS = { requests: 'requests', errorRatio: 'error-ratio', latency: 'latency' } as const;

/** Properties of an {@link EngineAnalysis}. */
export interface EngineAnalysisProps {
  /** The engine as it runs in this environment. */
  readonly plan: EnginePlan;
  /** Its release's measurements. */
  readonly analysis: AnalysisPlan;
  /** Paths left out of request counts, error ratios and latency (probes, scrapes): `nonTrafficPaths(catalog)`. */
  readonly nonTrafficPaths: readonly string[];
}

/**
 * The AnalysisTemplate an engine's releases are measured by: the new version's pods only (by pod
 * name, which the controller derives from the pod template hash it passes), over one interval,
 * with the error-ratio and latency definitions the tiers' alerts use, against the tier's
 * objectives.
 *
 * Each measurement is one of three outcomes, on purpose:
 * - **failed**: the new version broke an objective; past `failureLimit` the release is aborted and
 *   its pods scaled away;
 * - **successful**: enough requests, within both objectives;
 * - **inconclusive**: too few requests to judge (a quiet market, or a version nobody calls yet).
 *   Not a failure (nothing is wrong) and not a pass (nothing was shown): past `failureLimit` such
 *   windows pause the release for a person to promote or abort.
 *
 * Empty answers are guarded in each query (`or vector(...)`), so an engine without traffic gives
 * a number (zero requests, NaN ratios) rather than an error; a Prometheus that does not answer is
 * an error, and two in a row abort the release.
 */
export class EngineAnalysis extends Construct {
  constructor(scope: Construct, id: string, props: EngineAnalysisProps) {
    super(scope, id);
    const { plan, analysis } = props;
    const newPods = [
      `${SCRAPE_LABELS.namespace}="${plan.namespace}"`,
      // The controller names a version's pods <rollout>-<pod template hash>-<suffix>.
      `${SCRAPE_LABELS.pod}=~"${plan.engine.name}-{{args.${ANALYSIS_POD_TEMPLATE_HASH}}}-[a-z0-9]+"`,
    ];
    const window = analysis.interval;
    const { errorRatio, latencyQuantile } = analysis.objectives;
    const latency = analysis.objectives.latency.toSeconds();
    const judged = (value: string) => `!isNaN(result[0]) && ${value}`;
    const common = {
      interval: window.toPrometheus(),
      // The first window opens when the new pods start: measure once it is full.
      initialDelay: window.toPrometheus(),
      count: analysis.count === undefined ? undefined : AnalysisTemplateSpecMetricsCount.fromNumber(analysis.count),
      failureLimit: AnalysisTemplateSpecMetricsFailureLimit.fromNumber(analysis.failureLimit),
      inconclusiveLimit: AnalysisTemplateSpecMetricsInconclusiveLimit.fromNumber(analysis.failureLimit),
      consecutiveErrorLimit: AnalysisTemplateSpecMetricsConsecutiveErrorLimit.fromNumber(1),
    };
    const prometheus = (query: string) => ({ prometheus: { address: analysis.prometheusAddress, query } });
    const metrics: AnalysisTemplateSpecMetrics[] = [
      {
        name: ANALYSIS_METRICS.requests,
        ...common,
        provider: prometheus(`${requestCountQuery(props.nonTrafficPaths, window, newPods)} or vector(0)`),
        successCondition: `result[0] >= ${analysis.minimumRequests}`,
        // Too few requests is never a failure: it is inconclusive (see above).
        failureCondition: 'false',
      },
      {
        name: ANALYSIS_METRICS.errorRatio,
        ...common,
        provider: prometheus(`(${errorRatioQuery(props.nonTrafficPaths, window, newPods)}) or vector(NaN)`),
        successCondition: judged(`result[0] <= ${errorRatio}`),
        failureCondition: judged(`result[0] > ${errorRatio}`),
      },
      {
        name: ANALYSIS_METRICS.latency,
        ...common,
        provider: prometheus(`${latencyQuantileQuery(latencyQuantile, props.nonTrafficPaths, window, newPods)} or vector(NaN)`),
        successCondition: judged(`result[0] <= ${latency}`),
        failureCondition: judged(`result[0] > ${latency}`),
      },
    ];
    new AnalysisTemplate(this, 'AnalysisTemplate', {
      metadata: { name: analysis.templateName, namespace: plan.namespace, labels: componentLabels(plan.engine.name, plan.engine.tier.name) },
      spec: { args: [{ name: ANALYSIS_POD_TEMPLATE_HASH }], metrics },
    });
  }
}
