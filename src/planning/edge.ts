import { Duration } from '../model/duration';
import { EnvironmentSpec, ExternalAccess } from '../environments/environment';
import { EnginePlan } from './plan';

/** One public engine's route: HTTPS on `host` under `pathPrefix`, to the engine's Service port. */
export interface RoutePlan {
  readonly engine: string;
  readonly namespace: string;
  /** The full hostname, `<route host>.<domain>`. */
  readonly host: string;
  readonly pathPrefix: string;
  readonly port: number;
  /** Present for WebSocket engines: connections live on, closed after this long idle. */
  readonly websocket?: { readonly idleTimeout: Duration };
}

/** The certificate of every public hostname of the environment, and how cert-manager keeps it. */
export interface CertificatePlan {
  readonly name: string;
  /** The Secret of type kubernetes.io/tls it is written to, which the Gateway or the Ingresses serve. */
  readonly secretName: string;
  readonly hosts: readonly string[];
  /** Lifetime asked of the issuer (an ACME authority decides its own: Let's Encrypt's 90 days). */
  readonly duration: Duration;
  /** Renewed this long before it expires. */
  readonly renewBefore: Duration;
}

/**
 * An environment's edge: the routes of its public engines, the Gateway or Ingresses carrying them,
 * the certificate of their hostnames and its issuer, all in the public engines' namespace (a
 * Gateway's and an Ingress's certificate must be in its own namespace).
 */
export interface EdgePlan {
  readonly access: ExternalAccess;
  readonly namespace: string;
  /** Routes sorted by host, then longest path prefix first (the order a proxy matches them in). */
  readonly routes: readonly RoutePlan[];
  /** Every public hostname, sorted. */
  readonly hosts: readonly string[];
  readonly certificate: CertificatePlan;
  /** The Issuer signing the certificate (for a private CA, the CA issuer its root backs). */
  readonly issuerName: string;
  /**
   * A private CA's self-signed root, which cert-manager creates and keeps (its Certificate and
   * Secret share the name): present for the `private-ca` issuer only.
   */
  readonly privateRoot?: { readonly name: string; readonly duration: Duration; readonly renewBefore: Duration };
  /** The Gateway's name (Gateway API): the routes attach to it. */
  readonly gatewayName: string;
}

/** The name of the Gateway, the certificate and the issuer every environment's edge uses. */
const EDGE_NAME = 'nautilus-edge';

/**
 * cert-manager's default lifetime and a renewal a third of it before expiry: a month in which a
 * failing renewal is alerted on (NautilusCertificateExpiringSoon) and fixed.
 */
const CERTIFICATE_DURATION = Duration.hours(90 * 24);
const CERTIFICATE_RENEW_BEFORE = Duration.hours(30 * 24);

/** A private root's lifetime: ten years, renewed (and so re-trusted by clients) a year before. */
const PRIVATE_ROOT_DURATION = Duration.hours(10 * 365 * 24);
const PRIVATE_ROOT_RENEW_BEFORE = Duration.hours(365 * 24);

/** The full hostname of a route host in `environment`. */
export function publicHostname(environment: EnvironmentSpec, host: string): string {
  return `${host}.${environment.externalAccess.domain}`;
}

/**
 * The edge of the environment's engines, or undefined when none is public. Validation has checked
 * that public engines are services of the edge tier (so in its one namespace), with distinct host
 * and path.
 */
export function planEdge(environment: EnvironmentSpec, engines: readonly EnginePlan[]): EdgePlan | undefined {
  const routes = engines.flatMap((plan): RoutePlan[] => {
    const route = plan.engine.publicRoute;
    if (!route || plan.engine.workload.kind !== 'service') return [];
    return [{
      engine: plan.engine.name, namespace: plan.namespace, host: publicHostname(environment, route.host),
      pathPrefix: route.pathPrefix, port: plan.engine.workload.port, websocket: route.websocket,
    }];
  }).sort((a, b) => a.host.localeCompare(b.host) || b.pathPrefix.length - a.pathPrefix.length || a.pathPrefix.localeCompare(b.pathPrefix));
  if (routes.length === 0) return undefined;
  const hosts = [...new Set(routes.map((r) => r.host))].sort();
  return {
    access: environment.externalAccess,
    namespace: routes[0].namespace,
    routes,
    hosts,
    certificate: {
      name: EDGE_NAME, secretName: `${EDGE_NAME}-tls`, hosts, duration: CERTIFICATE_DURATION, renewBefore: CERTIFICATE_RENEW_BEFORE,
    },
    issuerName: EDGE_NAME,
    ...(environment.externalAccess.issuer.kind === 'private-ca'
      ? { privateRoot: { name: `${environment.name}-root-ca`, duration: PRIVATE_ROOT_DURATION, renewBefore: PRIVATE_ROOT_RENEW_BEFORE } }
      : {}),
    gatewayName: EDGE_NAME,
  };
}
