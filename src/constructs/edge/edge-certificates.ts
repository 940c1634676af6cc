import { Construct } from 'constructs';
import { Certificate, CertificateSpecPrivateKeyAlgorithm, CertificateSpecPrivateKeyRotationPolicy, Issuer, IssuerSpec } from '../../../imports/cert-manager.io';
import { EdgePlan } from '../../planning/edge';
import { componentLabels } from '../labels';
import { HTTP_LISTENER, gatewayListener } from './edge-routes';

/** Properties of {@link EdgeCertificates}. */
export interface EdgeCertificatesProps {
  readonly edge: EdgePlan;
  readonly environmentName: string;
}

/**
 * The certificate of the environment's public hostnames and the cert-manager Issuer that signs it,
 * in the routes' namespace. A private CA is a self-signed root cert-manager creates once (its own
 * Certificate), which a CA Issuer then signs with; the company CA signs from the Secret the secret
 * manager provides; an ACME authority checks each hostname over HTTP-01 through the environment's
 * own routes. cert-manager renews the certificate `renewBefore` its expiry, with a new key.
 *
 * @see https://cert-manager.io/docs/configuration/selfsigned/#bootstrapping-ca-issuers
 * @see https://cert-manager.io/docs/configuration/acme/http01/
 */
export class EdgeCertificates extends Construct {
  constructor(scope: Construct, id: string, props: EdgeCertificatesProps) {
    super(scope, id);
    const { edge } = props;
    const namespace = edge.namespace;
    const labels = componentLabels(edge.issuerName, 'edge');
    const issuer = edge.access.issuer;
    let spec: IssuerSpec;
    if (issuer.kind === 'private-ca') {
      // The plan names and times the root of every private-CA edge.
      const root = edge.privateRoot!;
      const selfSigned = `${root.name}-self-signed`;
      new Issuer(this, 'RootIssuer', { metadata: { name: selfSigned, namespace, labels }, spec: { selfSigned: {} } });
      new Certificate(this, 'Root', {
        metadata: { name: root.name, namespace, labels },
        spec: {
          isCa: true, commonName: `Nautilus ${props.environmentName} root CA`, secretName: root.name,
          duration: root.duration.toPrometheus(), renewBefore: root.renewBefore.toPrometheus(),
          privateKey: { algorithm: CertificateSpecPrivateKeyAlgorithm.ECDSA, size: 256 },
          issuerRef: { kind: 'Issuer', name: selfSigned },
        },
      });
      spec = { ca: { secretName: root.name } };
    } else if (issuer.kind === 'company-ca') {
      spec = { ca: { secretName: issuer.secretName } };
    } else {
      const gateway = edge.access.api === 'gateway';
      spec = {
        acme: {
          server: issuer.server, email: issuer.email, privateKeySecretRef: { name: `${edge.issuerName}-acme-account` },
          solvers: [{
            http01: gateway
              ? { gatewayHttpRoute: { parentRefs: [gatewayListener(edge, HTTP_LISTENER)] } }
              : { ingress: { ingressClassName: edge.access.controller.className } },
          }],
        },
      };
    }
    new Issuer(this, 'Issuer', { metadata: { name: edge.issuerName, namespace, labels }, spec });
    const { certificate } = edge;
    new Certificate(this, 'Certificate', {
      metadata: { name: certificate.name, namespace, labels },
      spec: {
        secretName: certificate.secretName,
        dnsNames: [...certificate.hosts],
        duration: certificate.duration.toPrometheus(),
        renewBefore: certificate.renewBefore.toPrometheus(),
        privateKey: { algorithm: CertificateSpecPrivateKeyAlgorithm.ECDSA, size: 256, rotationPolicy: CertificateSpecPrivateKeyRotationPolicy.ALWAYS },
        issuerRef: { kind: 'Issuer', name: edge.issuerName },
      },
    });
  }
}
