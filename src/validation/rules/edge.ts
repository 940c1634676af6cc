import { Tier } from '../../catalog/tier';
import { dnsSubdomainProblem } from '../../model/domains';
import { wholeSecondsProblem, Duration } from '../../model/duration';
import { Finding, findingsAbout } from '../../model/errors';
import { dnsLabelProblem } from '../../model/kubernetes-names';
import { publicHostname } from '../../planning/edge';
import { enabledEngines, isService } from '../../planning/plan';
import { ValidationRule, defineRule, forEachEngine } from '../rule';

/** Why `host` cannot be a certificate's DNS name (RFC 1123, each label at most 63 characters), or undefined. */
function hostnameProblem(host: string): string | undefined {
  const long = host.split('.').find((label) => label.length > 63);
  return dnsSubdomainProblem(host) ?? (long ? `has the label "${long}", longer than 63 characters` : undefined);
}

/** Why `prefix` cannot be a route's path prefix, or undefined. */
function pathPrefixProblem(prefix: string): string | undefined {
  if (!prefix.startsWith('/')) return 'must start with "/"';
  if (prefix.length > 1 && prefix.endsWith('/')) return 'must not end with "/" (a prefix matches whole path segments: "/api" matches "/api/orders")';
  return /^\/[A-Za-z0-9._~\-/]*$/.test(prefix) && !prefix.includes('//')
    ? undefined
    : 'must be path segments of letters, digits, ".", "_", "~" and "-", separated by single "/"';
}

/**
 * The edge: routes only to services of the edge tier, with valid hosts and prefixes and no two on
 * the same host and prefix; an environment with public engines has a valid domain, an issuer its
 * audience trusts and a controller that serves the chosen API.
 */
export const EDGE_RULES: readonly ValidationRule[] = [
  defineRule('public-routes', (input) => forEachEngine(input, (engine) => {
    const route = engine.publicRoute;
    if (!route) return [];
    const about = findingsAbout(engine.name, 'publicRoute.');
    const findings: Finding[] = [];
    if (engine.tier.name !== Tier.EDGE.name) {
      findings.push(about('host', JSON.stringify(route.host), `${engine.name} is in the ${engine.tier.name} tier: only the edge tier's engines are reached from outside (its NetworkPolicies, budgets and priority are made for it)`,
        'remove publicRoute, or move the engine to Tier.EDGE'));
    }
    if (!isService(engine)) {
      findings.push(about('host', JSON.stringify(route.host), `${engine.name} is a batch engine: it has no port and no Service to route to`, 'remove publicRoute'));
    }
    const hostProblem = dnsLabelProblem(route.host);
    if (hostProblem) findings.push(about('host', JSON.stringify(route.host), `not a DNS label: ${hostProblem}`, 'give the first label of the hostname, e.g. "app" for app.<domain>'));
    const pathProblem = pathPrefixProblem(route.pathPrefix);
    if (pathProblem) findings.push(about('pathPrefix', JSON.stringify(route.pathPrefix), pathProblem, 'give a prefix such as "/api", or "/" for the whole host'));
    if (route.websocket) {
      const idle = wholeSecondsProblem(route.websocket.idleTimeout, Duration.seconds(1));
      if (idle) findings.push(about('websocket.idleTimeout', route.websocket.idleTimeout.toString(), idle, 'give how long an idle connection stays open, e.g. Duration.hours(1)'));
    }
    return findings;
  })),
  defineRule('route-collisions', ({ catalog, environment }) => {
    const claimed = new Map<string, string>();
    const findings: Finding[] = [];
    for (const engine of enabledEngines(catalog, environment)) {
      const route = engine.publicRoute;
      if (!route) continue;
      const key = `${route.host} ${route.pathPrefix}`;
      const owner = claimed.get(key);
      if (owner) {
        findings.push({
          subject: engine.name, field: 'publicRoute', value: `${publicHostname(environment, route.host)}${route.pathPrefix}`,
          problem: `${owner} already claims this host and path prefix: a proxy would send its requests to one of the two`,
          fix: `give ${engine.name} another host or path prefix`,
        });
      } else {
        claimed.set(key, engine.name);
      }
    }
    return findings;
  }),
  defineRule('external-access', ({ catalog, environment }) => {
    const access = environment.externalAccess;
    const about = findingsAbout('environment', 'externalAccess.');
    const findings: Finding[] = [];
    const domainProblem = hostnameProblem(access.domain);
    if (domainProblem) findings.push(about('domain', JSON.stringify(access.domain), `not a DNS name: ${domainProblem}`, 'give the domain the public hosts are under, e.g. "staging.nautilus.example.com"'));
    for (const engine of enabledEngines(catalog, environment)) {
      if (!engine.publicRoute || domainProblem || dnsLabelProblem(engine.publicRoute.host)) continue;
      const host = publicHostname(environment, engine.publicRoute.host);
      const problem = hostnameProblem(host);
      if (problem) findings.push(about('domain', JSON.stringify(access.domain), `${engine.name}'s host ${host} is not a DNS name: ${problem}`, 'use a shorter domain'));
    }
    if (access.api === 'gateway' && access.controller.implementation === 'ingress-nginx') {
      findings.push(about('api', '"gateway"', 'ingress-nginx serves Ingresses only, not the Gateway API', 'use api "ingress" with ingress-nginx, or a controller that serves the Gateway API ("traefik")'));
    }
    if (access.api === 'ingress' && access.controller.implementation === 'traefik') {
      findings.push(about('api', '"ingress"', 'Traefik redirects an Ingress\'s HTTP to HTTPS only through a Middleware of its own CRDs, so plain HTTP would be served',
        'use api "gateway" with Traefik (the redirect is a standard HTTPRoute filter there), or ingress-nginx'));
    }
    for (const [field, value] of [['controller.className', access.controller.className], ['controller.namespace', access.controller.namespace]] as const) {
      const problem = dnsLabelProblem(value);
      if (problem) findings.push(about(field, JSON.stringify(value), `not a valid Kubernetes name: ${problem}`, 'give the name the cluster\'s controller uses, e.g. "nginx"'));
    }
    const issuer = access.issuer;
    if (access.audience === 'clients' && issuer.kind === 'private-ca') {
      findings.push(about('issuer.kind', '"private-ca"', 'clients\' browsers do not trust an environment\'s private root, so every client would see a certificate error',
        'use { kind: "acme", ... } or { kind: "company-ca", ... }, or set audience "developers" if only the team reaches it'));
    }
    if (issuer.kind === 'acme') {
      if (!/^https:\/\/[^\s/]+(\/\S*)?$/.test(issuer.server)) {
        findings.push(about('issuer.server', JSON.stringify(issuer.server), 'not an https URL: an ACME directory is only served over HTTPS', 'give the directory URL, e.g. "https://acme-v02.api.letsencrypt.org/directory"'));
      }
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(issuer.email)) {
        findings.push(about('issuer.email', JSON.stringify(issuer.email), 'not an email address: the authority sends expiry warnings there', 'give the team\'s address, e.g. "platform@example.com"'));
      }
    }
    if (issuer.kind === 'company-ca') {
      const problem = dnsLabelProblem(issuer.secretName);
      if (problem) findings.push(about('issuer.secretName', JSON.stringify(issuer.secretName), `not a valid Secret name: ${problem}`, 'name the Secret holding the CA\'s tls.crt and tls.key, e.g. "nautilus-company-ca"'));
    }
    return findings;
  }),
];
