import { EnginePlan } from '../../planning/plan';
import { componentLabels } from '../labels';

/** Port name of every engine's HTTP port (API, probes, metrics). */
export const HTTP_PORT_NAME = 'http';

/** The metadata every object of an engine shares: its name (Service DNS names are a contract), namespace and labels. */
export function engineMetadata(plan: EnginePlan): { name: string; namespace: string; labels: Record<string, string> } {
  const engine = plan.engine;
  return { name: engine.name, namespace: plan.namespace, labels: componentLabels(engine.name, engine.tier.name) };
}
