import { Construct } from 'constructs';
import {
  Gateway, GatewaySpecListenersAllowedRoutesNamespacesFrom, GatewaySpecListenersTlsMode, HttpRoute, HttpRouteSpecRulesFiltersRequestRedirectScheme,
  HttpRouteSpecRulesFiltersType, HttpRouteSpecRulesMatchesPathType,
} from '../../../imports/gateway.networking.k8s.io';
import { KubeIngress } from '../../../imports/k8s';
import { EdgePlan, RoutePlan } from '../../planning/edge';
import { componentLabels } from '../labels';

/** Properties of {@link EdgeRoutes}. */
export interface EdgeRoutesProps {
  readonly edge: EdgePlan;
}

/** A Gateway API listener's name for a host: `https-` and the host's first label. */
const httpsListener = (host: string) => `https-${host.split('.')[0]}`;
/** The Gateway's HTTP listener: the redirect to HTTPS, and an ACME authority's HTTP-01 challenges. */
export const HTTP_LISTENER = 'http';

/** A route's parent: one listener of the environment's Gateway. */
export function gatewayListener(edge: EdgePlan, sectionName: string): { group: string; kind: string; name: string; sectionName: string } {
  return { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: edge.gatewayName, sectionName };
}

/**
 * How requests from outside reach the public engines: a Gateway of the edge controller's class
 * with an HTTPRoute per engine (Gateway API), or an Ingress per engine (Ingress). Either way HTTPS
 * only, HTTP redirected to it, with the environment's certificate.
 */
export class EdgeRoutes extends Construct {
  constructor(scope: Construct, id: string, props: EdgeRoutesProps) {
    super(scope, id);
    const { edge } = props;
    if (edge.access.api === 'gateway') this.gateway(edge);
    else this.ingresses(edge);
  }

  /**
   * One Gateway: an HTTP listener whose only route redirects to HTTPS (and, for an ACME issuer,
   * carries cert-manager's HTTP-01 challenge routes, which match longer paths), and an HTTPS
   * listener per host serving the certificate. Routes attach from the Gateway's own namespace only.
   *
   * @see https://gateway-api.sigs.k8s.io/guides/http-redirect-rewrite/
   */
  private gateway(edge: EdgePlan): void {
    const ports = edge.access.controller.listenerPorts ?? { http: 80, https: 443 };
    const sameNamespace = { namespaces: { from: GatewaySpecListenersAllowedRoutesNamespacesFrom.SAME } };
    new Gateway(this, 'Gateway', {
      metadata: { name: edge.gatewayName, namespace: edge.namespace, labels: componentLabels(edge.gatewayName, 'edge') },
      spec: {
        gatewayClassName: edge.access.controller.className,
        listeners: [
          { name: HTTP_LISTENER, protocol: 'HTTP', port: ports.http, allowedRoutes: sameNamespace },
          ...edge.hosts.map((host) => ({
            name: httpsListener(host), protocol: 'HTTPS', port: ports.https, hostname: host, allowedRoutes: sameNamespace,
            tls: { mode: GatewaySpecListenersTlsMode.TERMINATE, certificateRefs: [{ group: '', kind: 'Secret', name: edge.certificate.secretName }] },
          })),
        ],
      },
    });
    new HttpRoute(this, 'HttpsRedirect', {
      metadata: { name: 'https-redirect', namespace: edge.namespace, labels: componentLabels(edge.gatewayName, 'edge') },
      spec: {
        parentRefs: [gatewayListener(edge, HTTP_LISTENER)],
        hostnames: [...edge.hosts],
        rules: [{
          matches: [{ path: { type: HttpRouteSpecRulesMatchesPathType.PATH_PREFIX, value: '/' } }],
          filters: [{
            type: HttpRouteSpecRulesFiltersType.REQUEST_REDIRECT,
            requestRedirect: { scheme: HttpRouteSpecRulesFiltersRequestRedirectScheme.HTTPS, statusCode: 301 },
          }],
        }],
      },
    });
    for (const route of edge.routes) {
      new HttpRoute(this, `Route-${route.engine}`, {
        metadata: { name: route.engine, namespace: edge.namespace, labels: componentLabels(route.engine, 'edge') },
        spec: {
          parentRefs: [gatewayListener(edge, httpsListener(route.host))],
          hostnames: [route.host],
          rules: [{
            matches: [{ path: { type: HttpRouteSpecRulesMatchesPathType.PATH_PREFIX, value: route.pathPrefix } }],
            backendRefs: [{ group: '', kind: 'Service', name: route.engine, port: route.port, weight: 1 }],
            // An upgraded connection is one request for as long as it lives: no deadline on it
            // (the zero duration disables the timeout). Its idle timeout is the controller's.
            ...(route.websocket ? { timeouts: { request: '0s' } } : {}),
          }],
        },
      });
    }
  }

  /**
   * An Ingress per engine, of the controller's class, with the certificate for its host. HTTP is
   * redirected and idle WebSockets closed through ingress-nginx's annotations (the Ingress API has
   * neither setting).
   *
   * @see https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/
   */
  private ingresses(edge: EdgePlan): void {
    for (const route of edge.routes) {
      new KubeIngress(this, `Ingress-${route.engine}`, {
        metadata: {
          name: route.engine, namespace: edge.namespace, labels: componentLabels(route.engine, 'edge'),
          annotations: ingressNginxAnnotations(route),
        },
        spec: {
          ingressClassName: edge.access.controller.className,
          tls: [{ hosts: [route.host], secretName: edge.certificate.secretName }],
          rules: [{
            host: route.host,
            http: { paths: [{ path: route.pathPrefix, pathType: 'Prefix', backend: { service: { name: route.engine, port: { number: route.port } } } }] },
          }],
        },
      });
    }
  }
}

/** ingress-nginx's settings of one route: HTTP redirected, and a WebSocket's idle timeout in seconds. */
function ingressNginxAnnotations(route: RoutePlan): Record<string, string> {
  const idle = route.websocket ? String(route.websocket.idleTimeout.toSeconds()) : undefined;
  return {
    'nginx.ingress.kubernetes.io/force-ssl-redirect': 'true',
    ...(idle ? { 'nginx.ingress.kubernetes.io/proxy-read-timeout': idle, 'nginx.ingress.kubernetes.io/proxy-send-timeout': idle } : {}),
  };
}
