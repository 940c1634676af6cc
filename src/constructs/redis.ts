import { Construct } from 'constructs';
import { DataStorePlan } from '../planning/plan';
import { CREDENTIAL_SECRETS } from '../planning/runtime-contract';
import { redisConf } from './redis-configuration';
import { StatefulStore } from './stateful-store';

const secret = (key: string) => ({
  secretKeyRef: { name: CREDENTIAL_SECRETS.redis.name, key },
});

/** Redis as one primary with AOF persistence; the password comes from a Secret. */
export class Redis extends StatefulStore {
  constructor(scope: Construct, id: string, plan: DataStorePlan) {
    const port = plan.store.port;
    // redis-cli exits 0 even on an error reply, so compare the answer itself.
    const ping = { exec: { command: ['/bin/sh', '-c', `test "$(redis-cli -h 127.0.0.1 -p ${port} ping)" = PONG`] } };
    super(scope, id, {
      plan,
      configFile: { name: 'redis.conf', content: redisConf(plan.memory, port), mountPath: '/etc/redis' },
      dataMountPath: '/data',
      container: {
        command: ['redis-server', '/etc/redis/redis.conf', '--requirepass', '$(REDIS_PASSWORD)'],
        env: [
          { name: 'REDIS_PASSWORD', valueFrom: secret('password') },
          // Read by redis-cli in the probes.
          { name: 'REDISCLI_AUTH', valueFrom: secret('password') },
        ],
        startupProbe: { ...ping, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 30 },
        livenessProbe: { ...ping, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
        readinessProbe: { ...ping, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
      },
      scratch: [{ name: 'tmp', mountPath: '/tmp' }],
    });
  }
}
