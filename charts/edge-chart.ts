import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { EdgeCertificates } from '../src/constructs/edge/edge-certificates';
import { EdgeRoutes } from '../src/constructs/edge/edge-routes';
import { environmentLabels } from '../src/constructs/labels';
import { EnvironmentPlan } from '../src/planning/environment-plan';

/** The public engines' routes, their certificate and its issuer: applied once the engines are. */
export class EdgeChart extends Chart {
  constructor(scope: Construct, id: string, plan: EnvironmentPlan) {
    super(scope, id, { labels: environmentLabels(plan.environment.name), disableResourceNameHashes: true });
    if (plan.edge) {
      new EdgeCertificates(this, 'Certificates', { edge: plan.edge, environmentName: plan.environment.name });
      new EdgeRoutes(this, 'Routes', { edge: plan.edge });
    }
  }
}
