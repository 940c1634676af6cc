import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { Engine } from '../src/constructs/engine';
import { environmentLabels } from '../src/constructs/labels';
import { PlatformChartProps } from './platform-chart-props';

/** Every enabled engine of the catalog. */
export class EnginesChart extends Chart {
  constructor(scope: Construct, id: string, props: PlatformChartProps) {
    super(scope, id, { labels: environmentLabels(props.environment.name), disableResourceNameHashes: true });
    const byName = new Map(props.engines.map((p) => [p.engine.name, p]));
    for (const plan of props.engines) {
      const image = props.images.get(plan.engine.name);
      if (!image) throw new Error(`no image reference for engine ${plan.engine.name} in ${props.environment.name}`);
      new Engine(this, plan.engine.name, {
        plan,
        image,
        upstreams: plan.engine.dependencies.engines.map((name) => byName.get(name)!),
      });
    }
  }
}
