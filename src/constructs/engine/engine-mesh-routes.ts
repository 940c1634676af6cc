import { Construct } from 'constructs';
import { DestinationRule, VirtualService } from '../../../imports/networking.istio.io';
import { EnginePlan } from '../../planning/plan';
import { MeshRouting } from '../../planning/release';
import { componentLabels, selectorLabels } from '../labels';

/** Properties of an {@link EngineMeshRoutes}. */
export interface EngineMeshRoutesProps {
  /** The engine as it runs in this environment. */
  readonly plan: EnginePlan;
  /** The routes its canary's weights are set on. */
  readonly routing: MeshRouting;
}

/**
 * The Istio routes of a mesh canary: a DestinationRule with a stable and a canary subset (both the
 * engine's pods; the Argo Rollouts controller adds each version's pod template hash to their
 * labels) and a VirtualService sending the engine's host to them, all to stable at rest (the
 * controller sets the weights at each step and back at the end).
 *
 * @see https://argo-rollouts.readthedocs.io/en/stable/features/traffic-management/istio/#subset-level-traffic-splitting
 */
export class EngineMeshRoutes extends Construct {
  constructor(scope: Construct, id: string, props: EngineMeshRoutesProps) {
    super(scope, id);
    const { plan, routing } = props;
    const metadata = { name: routing.name, namespace: plan.namespace, labels: componentLabels(plan.engine.name, plan.engine.tier.name) };
    const pods = selectorLabels(plan.engine.name);
    new DestinationRule(this, 'DestinationRule', {
      metadata,
      spec: {
        host: routing.host,
        subsets: [{ name: routing.stableSubset, labels: pods }, { name: routing.canarySubset, labels: pods }],
      },
    });
    new VirtualService(this, 'VirtualService', {
      metadata,
      spec: {
        hosts: [routing.host],
        http: [{
          name: routing.route,
          route: [
            { destination: { host: routing.host, subset: routing.stableSubset }, weight: 100 },
            { destination: { host: routing.host, subset: routing.canarySubset }, weight: 0 },
          ],
        }],
      },
    });
  }
}
