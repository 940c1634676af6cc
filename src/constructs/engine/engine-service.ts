import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { IntOrString, ServicePort } from '../../../imports/k8s';
import { EnginePlan } from '../../planning/plan';
import { service, setField } from '../escape-hatches';
import { selectorLabels } from '../labels';
import { HTTP_PORT_NAME, engineMetadata } from './engine-metadata';

/** Properties of an {@link EngineService}. */
export interface EngineServiceProps {
  /** The engine as it runs in this environment. */
  readonly plan: EnginePlan;
  /** The port the engine listens on. */
  readonly port: number;
}

/** The ClusterIP Service in front of a service engine's pods, named like the engine (its DNS name is a contract). */
export class EngineService extends Construct {
  constructor(scope: Construct, id: string, props: EngineServiceProps) {
    super(scope, id);
    const { plan } = props;
    const engineService = service(this, 'Service', {
      metadata: engineMetadata(plan),
      type: kplus.ServiceType.CLUSTER_IP,
      selector: kplus.Pods.select(this, 'ServicePods', { labels: selectorLabels(plan.engine.name) }),
      ports: [{ name: HTTP_PORT_NAME, port: props.port, protocol: kplus.Protocol.TCP }],
    });
    // cdk8s-plus-27 takes a numeric target port only: target the container port by name, so the
    // Service follows the container's port.
    setField<ServicePort, 'targetPort'>(engineService, '/spec/ports/0', 'targetPort', IntOrString.fromString(HTTP_PORT_NAME));
  }
}
