import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { IntOrString, ServicePort } from '../../../imports/k8s';
import { EnginePlan } from '../../planning/plan';
import { service, setField } from '../escape-hatches';
import { componentLabels, selectorLabels } from '../labels';
import { HTTP_PORT_NAME, engineMetadata } from './engine-metadata';

/** The standard `appProtocol` of a WebSocket port (Kubernetes' own prefix, KEP-3726). */
const WEBSOCKET_APP_PROTOCOL = 'kubernetes.io/ws';

/** Properties of an {@link EngineService}. */
export interface EngineServiceProps {
  /** The engine as it runs in this environment. */
  readonly plan: EnginePlan;
  /** The port the engine listens on. */
  readonly port: number;
  /**
   * The Service's name, where not the engine's: a blue/green engine's preview Service. Its labels
   * name it too, so the engine's ServiceMonitor (which selects the engine's name) scrapes each pod
   * once, through the engine's own Service.
   * @default the engine's name
   */
  readonly name?: string;
}

/** The ClusterIP Service in front of a service engine's pods, named like the engine (its DNS name is a contract). */
export class EngineService extends Construct {
  constructor(scope: Construct, id: string, props: EngineServiceProps) {
    super(scope, id);
    const { plan } = props;
    const metadata = engineMetadata(plan);
    const name = props.name ?? metadata.name;
    const engineService = service(this, 'Service', {
      metadata: { ...metadata, name, labels: componentLabels(name, plan.engine.tier.name) },
      type: kplus.ServiceType.CLUSTER_IP,
      selector: kplus.Pods.select(this, 'ServicePods', { labels: selectorLabels(plan.engine.name) }),
      ports: [{ name: HTTP_PORT_NAME, port: props.port, protocol: kplus.Protocol.TCP }],
    });
    // cdk8s-plus-27 takes a numeric target port only: target the container port by name, so the
    // Service follows the container's port.
    setField<ServicePort, 'targetPort'>(engineService, '/spec/ports/0', 'targetPort', IntOrString.fromString(HTTP_PORT_NAME));
    // The Gateway API's WebSocket backend protocol: a gateway forwards the upgrade to this port.
    if (plan.engine.publicRoute?.websocket && plan.environment.externalAccess.api === 'gateway') {
      setField<ServicePort, 'appProtocol'>(engineService, '/spec/ports/0', 'appProtocol', WEBSOCKET_APP_PROTOCOL);
    }
  }
}
