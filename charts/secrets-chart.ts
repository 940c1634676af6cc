import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { ExternalSecrets } from '../src/constructs/external-secrets';
import { environmentLabels } from '../src/constructs/labels';
import { EnvironmentPlan } from '../src/planning/environment-plan';
import { SECRETS_READER } from '../src/planning/secrets';

/**
 * The environment's credentials from its secret manager, applied after the namespaces and before
 * any workload, so the Secrets are being synced while the workloads start (a pod whose Secret is
 * not there yet waits for it). Empty where the Secrets are made by hand.
 */
export class SecretsChart extends Chart {
  constructor(scope: Construct, id: string, plan: EnvironmentPlan) {
    super(scope, id, { labels: environmentLabels(plan.environment.name), disableResourceNameHashes: true });
    const source = plan.environment.secrets;
    if (source.kind === 'vault') {
      new ExternalSecrets(this, 'ExternalSecrets', {
        environmentName: plan.environment.name, vault: source, secrets: plan.secrets, reader: SECRETS_READER,
      });
    }
  }
}
