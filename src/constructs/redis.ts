import { Construct } from 'constructs';
import { REDIS_EXPORTER, REDIS_SENTINEL } from '../catalog/data-stores';
import { Duration } from '../model/duration';
import { CREDENTIAL_SECRETS } from '../planning/runtime-contract';
import { REDIS_EXPORTER_TARGETS, RedisPlan } from '../planning/stores/redis';
import {
  LOCAL_ADDRESS, REDIS_FILES, REDIS_PATHS, RedisTopology, preStopScript, redisConf, sentinelConf, startScript,
} from './redis-configuration';
import { StatefulStore, StoreProbe, StoreProbeTiming, headlessServiceName } from './stateful-store';

/** The memory-backed volume holding the files start.sh renders (passwords included). */
const REDIS_RUNTIME_VOLUME = 'runtime';

/** How long the preStop hook waits for Sentinel to move the primary role elsewhere (whole seconds: the script counts in them). */
const HAND_OVER = Duration.seconds(15);

/** `redis-cli ping` against a local port, authenticated from the mounted Secret, never via argv. */
function pingProbe(port: number, timing: StoreProbeTiming): StoreProbe {
  // redis-cli exits 0 even on an error reply, so compare the answer itself.
  const script = `REDISCLI_AUTH="$(cat ${REDIS_PATHS.secret}/password)" && export REDISCLI_AUTH && test "$(redis-cli -h ${LOCAL_ADDRESS} -p ${port} ping)" = PONG`;
  return { command: ['/bin/sh', '-c', script], ...timing };
}

/**
 * Redis with AOF persistence. With one member, a single server. With more, one primary and
 * replicas, each pod running the server and a Sentinel that fails the primary over; a preStop
 * hook hands the primary role away before a primary pod stops. The password reaches Redis and
 * Sentinel through files rendered at start from the mounted Secret, never through argv or env.
 */
export class Redis extends Construct {
  /** The StatefulSet, Services, configuration and disruption budget Redis runs as. */
  public readonly store: StatefulStore;

  constructor(scope: Construct, id: string, plan: RedisPlan) {
    super(scope, id);
    const { store, sentinel } = plan;
    const port = store.port;
    const memberDomain = `.${headlessServiceName(store.name)}.${plan.namespace}.svc.cluster.local`;
    const topology: RedisTopology | undefined = sentinel
      ? {
        members: Array.from({ length: plan.replicas }, (_unused, ordinal) => `${store.name}-${ordinal}${memberDomain}`),
        memberDomain,
        sentinel,
      }
      : undefined;
    const start = (role: 'server' | 'sentinel') => ['/bin/sh', `${REDIS_PATHS.config}/${REDIS_FILES.start}`, role];
    const files: Record<string, string> = { [REDIS_FILES.start]: startScript(port, topology) };
    if (topology) {
      files[REDIS_FILES.sentinel] = sentinelConf();
      files[REDIS_FILES.preStop] = preStopScript(port, topology, HAND_OVER);
    }
    this.store = new StatefulStore(this, 'Store', {
      plan,
      configFile: { name: REDIS_FILES.server, content: redisConf(plan.memory, port, topology !== undefined), mountPath: REDIS_PATHS.config },
      additionalConfigFiles: files,
      secretFiles: { secretName: CREDENTIAL_SECRETS.redis.name, mountPath: REDIS_PATHS.secret },
      dataMountPath: REDIS_PATHS.data,
      container: {
        command: start('server'),
        startupProbe: pingProbe(port, { period: Duration.seconds(2), timeout: Duration.seconds(2), failureThreshold: 30 }),
        livenessProbe: pingProbe(port, { period: Duration.seconds(10), timeout: Duration.seconds(2), failureThreshold: 3 }),
        readinessProbe: pingProbe(port, { period: Duration.seconds(5), timeout: Duration.seconds(2), failureThreshold: 2 }),
        ...(topology
          ? { preStop: ['/bin/sh', `${REDIS_PATHS.config}/${REDIS_FILES.preStop}`] }
          : {}),
      },
      // The budgets are the plan's (its kind's, in src/planning/stores), which the namespace quota counts too.
      sidecars: plan.monitoring.sidecars.map((sidecar) => {
        switch (sidecar.name) {
          case 'sentinel':
            return {
              name: sidecar.name, cpu: sidecar.cpu, memory: sidecar.memory,
              command: start('sentinel'),
              ports: [{ name: REDIS_SENTINEL.portName, port: REDIS_SENTINEL.port }],
              // Sentinel needs the other members to be useful; it only has to be alive to be ready.
              readinessProbe: pingProbe(REDIS_SENTINEL.port, { period: Duration.seconds(5), timeout: Duration.seconds(2), failureThreshold: 2 }),
              livenessProbe: pingProbe(REDIS_SENTINEL.port, { period: Duration.seconds(10), timeout: Duration.seconds(2), failureThreshold: 3 }),
            };
          case REDIS_EXPORTER.name: {
            const health = { httpGet: { path: '/health', port: REDIS_EXPORTER.port }, timeout: Duration.seconds(2) };
            return {
              name: sidecar.name, cpu: sidecar.cpu, memory: sidecar.memory,
              image: REDIS_EXPORTER.image,
              // Only the runtime directory with its password file: no data, configuration or Secret.
              mounts: [REDIS_RUNTIME_VOLUME],
              // The password comes from the file start.sh renders from the mounted Secret, never argv.
              args: [
                `--redis.addr=${REDIS_EXPORTER_TARGETS.server(port)}`,
                `--redis.password-file=${REDIS_PATHS.runtime}/${REDIS_FILES.exporterPasswords}`,
                `--web.listen-address=:${REDIS_EXPORTER.port}`,
              ],
              ports: [{ name: REDIS_EXPORTER.portName, port: REDIS_EXPORTER.port }],
              readinessProbe: { ...health, period: Duration.seconds(10), failureThreshold: 3 },
              livenessProbe: { ...health, period: Duration.seconds(20), failureThreshold: 3 },
            };
          }
          default:
            throw new Error(`redis: no container is defined for the planned sidecar "${sidecar.name}"; add it to Redis's sidecars`);
        }
      }),
      // /run/redis holds the rendered files with the password: memory-backed, never on a disk.
      scratch: [{ name: 'tmp', mountPath: '/tmp' }, { name: REDIS_RUNTIME_VOLUME, mountPath: REDIS_PATHS.runtime, memory: true }],
    });
  }
}
