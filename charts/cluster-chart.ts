import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { ClusterFoundation } from '../src/constructs/cluster-foundation';
import { environmentLabels } from '../src/constructs/labels';
import { PlatformChartProps } from './platform-chart-props';

/** Namespaces, priority classes, quotas, storage classes, node pools, device plugin: applied first. */
export class ClusterChart extends Chart {
  constructor(scope: Construct, id: string, props: PlatformChartProps) {
    super(scope, id, { labels: environmentLabels(props.environment.name), disableResourceNameHashes: true });
    new ClusterFoundation(this, 'Foundation', props);
  }
}
