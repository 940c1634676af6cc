import { EngineSpec } from '../../catalog/engine-spec';
import { ReleaseAnalysis, ReleasePolicy } from '../../catalog/release';
import { Duration, wholeSecondsProblem } from '../../model/duration';
import { Finding, findingsAbout } from '../../model/errors';
import { isService, planEngine } from '../../planning/plan';
import { releasePolicyOf } from '../../planning/release';
import { ValidationRule, defineRule, forEachEngine } from '../rule';

/** Where an engine's release policy comes from, for the field path of a finding. */
function policyField(engine: EngineSpec): string {
  return engine.release ? 'release.policy' : `tier(${engine.tier.name}).release`;
}

/** What is wrong with a release policy's own values: steps, pauses, measurements. */
function policyFindings(engine: EngineSpec, policy: ReleasePolicy, scrapeInterval: Duration): Finding[] {
  const about = findingsAbout(engine.name, `${policyField(engine)}.`);
  if (policy.kind === 'rolling') return [];
  const findings: Finding[] = analysisFindings(about, policy.analysis, scrapeInterval);
  if (policy.kind === 'canary') {
    const steps = policy.steps;
    if (steps.length === 0) {
      findings.push(about('steps', '[]', 'a canary needs at least one step below 100 %', 'give a step such as { percent: 10 }, or release it rolling'));
    }
    steps.forEach((step, index) => {
      if ('onePod' in step) {
        if (index > 0) findings.push(about(`steps[${index}]`, 'onePod', 'onePod is the smallest canary there is, so only a first step can be one', 'make it the first step, or give a percentage'));
        return;
      }
      const previous = index > 0 ? steps[index - 1] : undefined;
      if (!Number.isInteger(step.percent) || step.percent < 1 || step.percent > 99) {
        findings.push(about(`steps[${index}].percent`, String(step.percent),
          'a step is a whole percentage from 1 to 99: the release goes to 100 % by itself after its last step', 'give a whole number from 1 to 99'));
      } else if (previous && 'percent' in previous && step.percent <= previous.percent) {
        findings.push(about(`steps[${index}].percent`, String(step.percent),
          `steps must rise: the step before is ${previous.percent} %, so this one would take pods away from the new version`, `give more than ${previous.percent}, or remove the step`));
      }
    });
    const pause = wholeSecondsProblem(policy.stepPause, Duration.seconds(1));
    if (pause) {
      findings.push(about('stepPause', policy.stepPause.toString(), `${pause}: a step without a pause is never measured (and an unattended environment has nobody to end an open pause)`, 'give a pause of a few analysis intervals, e.g. Duration.minutes(5)'));
    }
  } else {
    const preview = wholeSecondsProblem(policy.previewFor, Duration.seconds(1));
    if (preview) findings.push(about('previewFor', policy.previewFor.toString(), preview, 'give the time the new colour runs on its preview before an unattended switch, e.g. Duration.minutes(2)'));
    // The first measurement waits one interval, then `count` are taken one interval apart.
    if (!Number.isInteger(policy.measurements) || policy.measurements < 1) {
      findings.push(about('measurements', String(policy.measurements), 'must be a whole number of at least 1: a switch nobody measures could not be switched back', 'give the measurements to take after the switch, e.g. 5'));
    }
    const measured = Duration.millis(policy.analysis.interval.milliseconds * (policy.measurements + 1));
    if (policy.scaleDownDelay.milliseconds <= measured.milliseconds) {
      findings.push(about('scaleDownDelay', policy.scaleDownDelay.toString(),
        `the old colour would be gone before the measurements after the switch end (${measured}), so a failed one could not switch back`, `give more than ${measured}`));
    }
  }
  return findings;
}

/** What is wrong with a release's measurements. */
function analysisFindings(about: ReturnType<typeof findingsAbout>, analysis: ReleaseAnalysis, scrapeInterval: Duration): Finding[] {
  const findings: Finding[] = [];
  const minimum = Duration.millis(scrapeInterval.milliseconds * 4);
  if (wholeSecondsProblem(analysis.interval, minimum)) {
    findings.push(about('analysis.interval', analysis.interval.toString(),
      `each measurement reads one interval, which needs at least four scrapes (the tier scrapes every ${scrapeInterval}) and whole seconds`, `give at least ${minimum}`));
  }
  for (const [field, value, least] of [['failureLimit', analysis.failureLimit, 0], ['minimumRequests', analysis.minimumRequests, 1]] as const) {
    if (!Number.isInteger(value) || value < least) {
      findings.push(about(`analysis.${field}`, String(value), `must be a whole number of at least ${least}`, field === 'minimumRequests'
        ? 'give the requests a window needs to be judged (fewer makes a measurement inconclusive, not a pass)'
        : `give a whole number of at least ${least}`));
    }
  }
  return findings;
}

/** Releases: the policies themselves, where they can apply, and the environment's progressive delivery setting. */
export const RELEASE_RULES: readonly ValidationRule[] = [
  defineRule('release-policy', (input) =>
    forEachEngine(input, (engine) => isService(engine) ? policyFindings(engine, releasePolicyOf(engine), engine.tier.runtime.scrapeInterval) : [])),
  defineRule('release-target', (input) =>
    forEachEngine(input, (engine): Finding[] => {
      const about = findingsAbout(engine.name);
      const findings: Finding[] = [];
      if (engine.release && engine.release.reason.trim() === '') {
        findings.push(about('release.reason', '""', 'an engine that does not release as its tier does must say why', 'give the reason (shown in the summary)'));
      }
      const kind = engine.release?.policy.kind;
      if (!isService(engine) && kind !== undefined && kind !== 'rolling') {
        findings.push(about('release.policy.kind', kind,
          `a batch engine runs Jobs that complete; a ${kind} release needs long-running pods (and blue/green a Service) to measure and switch`, "remove the override, or use { kind: 'rolling' }"));
      }
      return findings;
    })),
  defineRule('release-canary-replicas', (input) =>
    forEachEngine(input, (engine): Finding[] => {
      const plan = planEngine(engine, input.environment);
      if (plan.release.kind !== 'canary') return [];
      const weights = plan.release.weights;
      return weights.flatMap((weight, index) => index > 0 && weight <= weights[index - 1]
        ? [findingsAbout(engine.name)(`${policyField(engine)}.steps[${index}]`, `${weight} %`,
          `with ${plan.replicas} pods at rest the step before already runs ${weights[index - 1]} %, so this step would not add a pod`, 'remove the step or give a larger share')]
        : []);
    })),
  defineRule('release-mesh', (input) =>
    forEachEngine(input, (engine): Finding[] => {
      const policy = releasePolicyOf(engine);
      if (!isService(engine) || policy.kind !== 'canary' || policy.traffic !== 'mesh') return [];
      const about = findingsAbout(engine.name);
      const mesh = input.environment.progressiveDelivery?.mesh;
      if (!mesh) {
        return [about(`${policyField(engine)}.traffic`, 'mesh', `${input.environment.name} declares no service mesh (progressiveDelivery.mesh), so no weights could split the canary's requests`,
          `declare the environment's mesh, or use traffic 'replicas' (or leave it out: the mesh where there is one)`)];
      }
      if (engine.tier.hostNetwork) {
        return [about(`${policyField(engine)}.traffic`, 'mesh', `${engine.name} runs on the host network (tier ${engine.tier.name}), where the ${mesh} sidecar does not run, so weights would not reach its pods`,
          "use traffic 'replicas' (or leave it out)")];
      }
      return [];
    })),
  defineRule('progressive-delivery', ({ environment }) => {
    const address = environment.progressiveDelivery?.prometheusAddress;
    if (address === undefined) return [];
    let valid = false;
    try {
      const url = new URL(address);
      valid = (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
    } catch { /* reported below */ }
    return valid ? [] : [{
      subject: 'environment', field: 'progressiveDelivery.prometheusAddress', value: JSON.stringify(address),
      problem: 'the release analyses query Prometheus at this address, which is not an http(s) URL', fix: 'give the URL the controller reaches Prometheus at, e.g. "http://prometheus.monitoring.svc:9090"',
    }];
  }),
];
