import { Construct } from 'constructs';
import { ServiceMonitor } from '../../../imports/monitoring.coreos.com';
import { METRICS_PATH } from '../../engines/runtime/metric-names';
import { EnginePlan } from '../../planning/plan';
import { selectorLabels } from '../labels';
import { HTTP_PORT_NAME, engineMetadata } from './engine-metadata';

/** Properties of an {@link EngineServiceMonitor}. */
export interface EngineServiceMonitorProps {
  /** The engine as it runs in this environment. */
  readonly plan: EnginePlan;
}

/** How Prometheus scrapes an engine's metrics through its Service, at the tier's interval. */
export class EngineServiceMonitor extends Construct {
  constructor(scope: Construct, id: string, props: EngineServiceMonitorProps) {
    super(scope, id);
    const { plan } = props;
    new ServiceMonitor(this, 'ServiceMonitor', {
      metadata: engineMetadata(plan),
      spec: {
        selector: { matchLabels: selectorLabels(plan.engine.name) },
        endpoints: [{ port: HTTP_PORT_NAME, path: METRICS_PATH, interval: plan.runtime.scrapeInterval.toPrometheus() }],
      },
    });
  }
}
