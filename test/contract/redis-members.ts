/**
 * A replicated Redis run on one machine from the synthesized manifests (dist/<env>/): each member
 * is the StatefulSet's two containers, started with their own commands (`start.sh server` and
 * `start.sh sentinel`) from a copy of the `redis-config` ConfigMap, with Debian's redis-server and
 * redis-sentinel. The preStop hook is the container's own.
 *
 * What changes for one machine, and nothing else:
 *   - each member's DNS name becomes its own loopback address (127.a.b.1, .2, .3, random per run so
 *     parallel runs do not meet), the pod's own address (`LOCAL`) that address, and `bind` it;
 *   - the pod's mount paths (ConfigMap, data volume, runtime emptyDir, Secret) become temp dirs.
 * Ports stay the generated ones (6379, 26379): every member has its own address.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import Redis from 'ioredis';
import { parseAllDocuments } from 'yaml';
import { LOCAL_ADDRESS, REDIS_FILES, REDIS_PATHS } from '../../src/constructs/redis-configuration';
import { ManagedProcess, poll } from './processes';

interface ManifestContainer {
  readonly name: string;
  readonly command?: readonly string[];
  readonly lifecycle?: { readonly preStop?: { readonly exec?: { readonly command?: readonly string[] } } };
}

/** The Redis objects of one environment's manifests. */
export interface RedisManifest {
  readonly replicas: number;
  readonly serviceName: string;
  readonly files: Readonly<Record<string, string>>;
  readonly server: ManifestContainer;
  readonly sentinel?: ManifestContainer;
  /** Every container of every workload in the environment, for the no-secret-in-argv check. */
  readonly file: string;
}

/** Reads the `redis` StatefulSet and its ConfigMap from dist/<environment>/. */
export function loadRedisManifest(repositoryRoot: string, environment: string): RedisManifest {
  const dir = path.join(repositoryRoot, 'dist', environment);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort() : [];
  let statefulSet: { file: string; spec: { replicas: number; serviceName: string; template: { spec: { containers: ManifestContainer[] } } } } | undefined;
  let configMap: Record<string, string> | undefined;
  for (const file of files) {
    for (const document of parseAllDocuments(fs.readFileSync(path.join(dir, file), 'utf8'))) {
      const object = document.toJSON() as { kind?: string; metadata?: { name?: string }; spec?: unknown; data?: Record<string, string> } | null;
      if (object?.kind === 'StatefulSet' && object.metadata?.name === 'redis') statefulSet = { file, spec: object.spec as never };
      if (object?.kind === 'ConfigMap' && object.metadata?.name === 'redis-config') configMap = object.data;
    }
  }
  if (!statefulSet || !configMap) throw new Error(`dist/${environment}/ has no redis StatefulSet and redis-config ConfigMap: run \`npm run synth\` first`);
  const containers = statefulSet.spec.template.spec.containers;
  const server = containers.find((c) => c.name === 'redis');
  if (!server) throw new Error(`dist/${environment}/${statefulSet.file}: the redis StatefulSet has no redis container`);
  return {
    replicas: statefulSet.spec.replicas,
    serviceName: statefulSet.spec.serviceName,
    files: configMap,
    server,
    sentinel: containers.find((c) => c.name === 'sentinel'),
    file: path.posix.join('dist', environment, statefulSet.file),
  };
}

/** Whether `port` can be bound on `host` now. */
function bindable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** One member: its addresses, directories and the two processes its pod runs. */
export class RedisMember {
  public server?: ManagedProcess;
  public sentinel?: ManagedProcess;

  constructor(
    public readonly ordinal: number,
    public readonly podName: string,
    /** The member's DNS name in the cluster. */
    public readonly dnsName: string,
    /** Its loopback address on this machine. */
    public readonly address: string,
    public readonly root: string,
  ) {}

  /** A container path of the pod, on this machine. */
  public local(containerPath: string): string {
    return path.join(this.root, containerPath);
  }
}

/** Three (or `replicas`) members on one machine, from the generated files. */
export class RedisMembers {
  /** Lays out every member's directories and remapped files; starts nothing. */
  public static async create(manifest: RedisManifest, password: string): Promise<RedisMembers> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-redis-members-'));
    // A random 127.a.b.0/24 whose generated ports are free on every member address.
    let prefix = '';
    for (let attempt = 0; attempt < 20 && prefix === ''; attempt++) {
      const candidate = `127.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
      const free = await Promise.all(Array.from({ length: manifest.replicas }, (_u, i) =>
        Promise.all([bindable(`${candidate}.${i + 1}`, 6379), bindable(`${candidate}.${i + 1}`, 26379)])));
      if (free.every((pair) => pair.every(Boolean))) prefix = candidate;
    }
    if (prefix === '') throw new Error('no free loopback /24 with ports 6379 and 26379 free on every member address');
    const domain = `.${manifest.serviceName}.`;
    const members: RedisMember[] = [];
    for (let ordinal = 0; ordinal < manifest.replicas; ordinal++) {
      const podName = `redis-${ordinal}`;
      const dnsNameMatch = Object.values(manifest.files).join('\n').match(new RegExp(`${podName}${domain.replace(/\./g, '\\.')}[a-z0-9.-]+`));
      const dnsName = dnsNameMatch ? dnsNameMatch[0] : `${podName}${domain}`;
      members.push(new RedisMember(ordinal, podName, dnsName, `${prefix}.${ordinal + 1}`, path.join(root, podName)));
    }
    for (const member of members) {
      for (const dir of Object.values(REDIS_PATHS)) fs.mkdirSync(member.local(dir), { recursive: true });
      fs.mkdirSync(member.local('/tmp'), { recursive: true });
      fs.writeFileSync(path.join(member.local(REDIS_PATHS.secret), 'password'), password, { mode: 0o400 });
      for (const [name, content] of Object.entries(manifest.files)) {
        fs.writeFileSync(path.join(member.local(REDIS_PATHS.config), name), remap(content, member, members));
      }
    }
    return new RedisMembers(manifest, members, root, password);
  }

  private constructor(
    public readonly manifest: RedisManifest,
    public readonly members: readonly RedisMember[],
    private readonly root: string,
    public readonly password: string,
  ) {}

  /** Runs a container command of the pod (`/bin/sh /etc/redis/start.sh ...`) with container paths mapped. */
  private run(member: RedisMember, label: string, command: readonly string[]): ManagedProcess {
    const [executable, ...args] = command.map((arg) => (arg.startsWith('/etc/') || arg.startsWith('/run/') ? member.local(arg) : arg));
    return new ManagedProcess(`${member.podName} ${label}`, executable, args, {
      cwd: member.root,
      // What the kubelet gives the container: HOSTNAME is the pod's name.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOSTNAME: member.podName },
    });
  }

  /** Starts the member's server and Sentinel, as its pod's containers do. */
  public start(member: RedisMember): void {
    if (!this.manifest.server.command) throw new Error(`${this.manifest.file}: the redis container has no command`);
    member.server = this.run(member, 'redis', this.manifest.server.command);
    if (this.manifest.sentinel?.command) member.sentinel = this.run(member, 'sentinel', this.manifest.sentinel.command);
  }

  /** Runs the server container's preStop hook to completion, as the kubelet does before SIGTERM. */
  public async preStop(member: RedisMember): Promise<string> {
    const command = this.manifest.server.lifecycle?.preStop?.exec?.command;
    if (!command) throw new Error(`${this.manifest.file}: the redis container has no preStop exec hook`);
    const hook = this.run(member, 'preStop', command);
    const exit = await hook.waitForExit(60_000);
    if (!exit || exit.code !== 0) throw new Error(`preStop of ${member.podName} failed (${JSON.stringify(exit)}):\n${hook.log}`);
    return hook.log;
  }

  /** A client of one member's server (or Sentinel), authenticated, no retries. */
  public client(member: RedisMember, port = 6379): Redis {
    const client = new Redis({ host: member.address, port, password: this.password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000 });
    client.on('error', () => undefined);
    return client;
  }

  /** Sends one command to a member on a fresh connection. */
  public async ask(member: RedisMember, port: number, ...args: string[]): Promise<unknown> {
    const client = this.client(member, port);
    try {
      await client.connect();
      return await client.call(args[0], ...args.slice(1));
    } finally {
      client.disconnect();
    }
  }

  /** The member whose address a Sentinel answers for the primary (undefined when none answers). */
  public async primaryPerSentinels(masterName: string, except?: RedisMember): Promise<RedisMember | undefined> {
    for (const member of this.members) {
      if (member === except || !member.sentinel?.running) continue;
      try {
        const answer = await this.ask(member, 26379, 'SENTINEL', 'get-master-addr-by-name', masterName) as string[] | null;
        const found = this.members.find((m) => m.address === answer?.[0]);
        if (found) return found;
      } catch {
        // this Sentinel is not answering: ask the next
      }
    }
    return undefined;
  }

  /** Waits until `member` answers PING (after a start). */
  public async waitForServer(member: RedisMember, deadline: number): Promise<void> {
    const result = await poll(async () => {
      if (member.server && !member.server.running) throw new Error(`the server exited:\n${member.server.log}`);
      return (await this.ask(member, 6379, 'PING')) === 'PONG' ? true : undefined;
    }, deadline);
    if (result instanceof Error) throw new Error(`${member.podName} did not answer: ${result.message}\n${member.server?.log ?? ''}`);
  }

  /** `ROLE`'s first element and, for a replica, its primary's address and link state. */
  public async role(member: RedisMember): Promise<{ role: string; primary?: string; link?: string }> {
    const reply = await this.ask(member, 6379, 'ROLE') as unknown[];
    return reply[0] === 'slave' ? { role: 'replica', primary: String(reply[1]), link: String(reply[3]) } : { role: String(reply[0]) };
  }

  /** Kills every process and removes the directories. */
  public async dispose(): Promise<void> {
    for (const member of this.members) {
      member.server?.signal('SIGKILL');
      member.sentinel?.signal('SIGKILL');
      await Promise.all([member.server?.exited, member.sentinel?.exited]);
    }
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** The member's copy of a generated file, with the one-machine changes the module comment lists. */
function remap(content: string, self: RedisMember, members: readonly RedisMember[]): string {
  let text = content;
  // The pod's own DNS name is built from $HOSTNAME in the scripts: it is this member's address.
  const ownDomain = self.dnsName.slice(self.podName.length);
  text = text.split(`$HOSTNAME${ownDomain}`).join(self.address);
  for (const member of members) text = text.split(member.dnsName).join(member.address);
  text = text.replace(new RegExp(`^LOCAL=${LOCAL_ADDRESS.replace(/\./g, '\\.')}$`, 'm'), `LOCAL=${self.address}`);
  text = text.replace(/^bind \* -::\*$/m, `bind ${self.address}`);
  text = text.replace(new RegExp(`^dir ${REDIS_PATHS.data}$`, 'm'), `dir ${self.local(REDIS_PATHS.data)}`);
  text = text.replace(/^dir \/tmp$/m, `dir ${self.local('/tmp')}`);
  for (const containerPath of [REDIS_PATHS.config, REDIS_PATHS.runtime, REDIS_PATHS.secret]) {
    text = text.split(containerPath).join(self.local(containerPath));
  }
  return text;
}

export { REDIS_FILES };
