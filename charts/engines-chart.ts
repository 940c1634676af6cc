import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { Engine } from '../src/constructs/engine';
import { environmentLabels } from '../src/constructs/labels';
import { EnvironmentPlan } from '../src/planning/environment-plan';
import { nonTrafficPaths } from '../src/planning/monitoring';

/** Every enabled engine of the catalog. */
export class EnginesChart extends Chart {
  constructor(scope: Construct, id: string, { environment, engines, stores, images }: EnvironmentPlan) {
    super(scope, id, { labels: environmentLabels(environment.name), disableResourceNameHashes: true });
    const byName = new Map(engines.map((p) => [p.engine.name, p]));
    const paths = nonTrafficPaths(engines.map((p) => p.engine));
    for (const plan of engines) {
      const image = images.get(plan.engine.name);
      if (!image) throw new Error(`no image reference for engine ${plan.engine.name} in ${environment.name}`);
      new Engine(this, plan.engine.name, {
        plan,
        image,
        upstreams: plan.engine.dependencies.engines.map((name) => byName.get(name)!),
        stores,
        nonTrafficPaths: paths,
      });
    }
  }
}
