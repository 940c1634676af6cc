/**
 * What a release test needs around kwok's pods, which run nothing: every Running pod of the engines
 * under test gets a real engine runtime process on this machine (the version its image tag names,
 * see release-version.ts), a real Prometheus scrapes each of them under the pod's own labels (as the
 * ServiceMonitor's targets are labelled), and a load sender plays kube-proxy: it spreads requests
 * over the Ready pods the engine's Service selects, the selector the Argo Rollouts controller edits
 * for blue/green included. The controller's AnalysisRuns then query that Prometheus.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CoreV1Api, KubeConfig, V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { SCRAPE_LABELS } from '../../../src/planning/monitoring';
import { ManagedProcess, freePort, httpGet, poll } from '../../contract/processes';
import { prometheusBinary } from '../../monitoring/promtool';
import { startWatchdog } from './process-guard';

const REPOSITORY = path.join(__dirname, '..', '..', '..');
const FIXTURE = path.join(__dirname, 'release-version.ts');
/** The stand-in versions' niceness: negative, so they run before the other lanes' processes (the tests run as root). */
const STAND_IN_NICENESS = -10;

/** How a version behaves, by image tag: the share of requests it fails. */
export type VersionBehaviour = (tag: string) => number;

/** One emulated pod: its process, port and labels. */
interface PodProcess {
  readonly pod: string;
  readonly engine: string;
  readonly tag: string;
  readonly port: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly process: ManagedProcess;
  ready: boolean;
}

/** Options of {@link ReleaseTraffic.start}. */
export interface ReleaseTrafficOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** The engines whose pods are emulated and loaded. */
  readonly engines: readonly string[];
  /** Each pod's environment (the pod template's NAUTILUS_* variables, resolved), by engine. */
  readonly environment: (engine: string) => Record<string, string>;
  /** Failure share of a version, by its image tag. */
  readonly failureRatio: VersionBehaviour;
  /** Requests per second sent to each Ready pod a Service selects. */
  readonly requestsPerPodPerSecond: number;
}

/** Pods emulated by processes, a Prometheus scraping them, and load on them. See the module comment. */
export class ReleaseTraffic {
  /** Starts Prometheus and the loops; call {@link stop} in afterAll. */
  public static async start(options: ReleaseTrafficOptions): Promise<ReleaseTraffic> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-release-'));
    const traffic = new ReleaseTraffic(options, dir);
    try {
      await traffic.startPrometheus();
      traffic.timers.push(setInterval(() => void traffic.followPods(), 300));
      traffic.timers.push(setInterval(() => traffic.sendLoad(), 100));
      return traffic;
    } catch (error) {
      await traffic.stop();
      throw error;
    }
  }

  /** Prometheus's port on 127.0.0.1. */
  public prometheusPort = 0;
  private prometheus?: ManagedProcess;
  private readonly pods = new Map<string, PodProcess>();
  private readonly selectors = new Map<string, Record<string, string>>();
  private readonly quiet = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly bundle: string;
  private following = false;
  private stopped = false;
  /** Errors of the loops, for the test's failure message. */
  public readonly errors: string[] = [];
  private readonly usedPorts = new Set<number>();

  private constructor(private readonly options: ReleaseTrafficOptions, private readonly dir: string) {
    this.bundle = path.join(dir, 'release-version.js');
    // esbuild is the deploy tool's bundler: one file with the runtime and its clients, started in ~0.1 s.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const esbuild = require('esbuild') as typeof import('esbuild');
    esbuild.buildSync({ entryPoints: [FIXTURE], bundle: true, platform: 'node', target: 'node20', outfile: this.bundle, logLevel: 'error' });
    fs.writeFileSync(this.targetsFile, '[]');
    // Its directory goes with the test process, also when that dies without stopping this (the
    // processes themselves die with it: a signal at the terminal reaches them, exit kills them).
    const groups = path.join(dir, 'process-groups');
    fs.writeFileSync(groups, '');
    startWatchdog('release-traffic-watchdog', groups, dir);
  }

  /** The URL the AnalysisTemplates must query. */
  public get prometheusAddress(): string {
    return `http://127.0.0.1:${this.prometheusPort}`;
  }

  private get targetsFile(): string {
    return path.join(this.dir, 'targets.json');
  }

  /** Stops sending requests to `engine` (a quiet market), or resumes. */
  public setQuiet(engine: string, quiet: boolean): void {
    if (quiet) this.quiet.add(engine); else this.quiet.delete(engine);
  }

  /** The image tags of the emulated pods of `engine` that are Ready, by pod. */
  public readyVersions(engine: string): Record<string, string> {
    return Object.fromEntries([...this.pods.values()].filter((p) => p.engine === engine && p.ready).map((p) => [p.pod, p.tag]));
  }

  /** An instant query on the test's Prometheus. */
  public async query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    const answer = await httpGet(this.prometheusPort, `/api/v1/query?query=${encodeURIComponent(expr)}`, 5000);
    return (JSON.parse(answer.body) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }).data.result;
  }

  private async startPrometheus(): Promise<void> {
    this.prometheusPort = await freePort();
    // Scraped every second (the ServiceMonitors say 5 or 15 s): the test's analyses use 5 s windows.
    fs.writeFileSync(path.join(this.dir, 'prometheus.yml'), stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      scrape_configs: [{ job_name: 'engines', file_sd_configs: [{ files: [this.targetsFile], refresh_interval: '1s' }] }],
    }));
    this.prometheus = new ManagedProcess('prometheus', prometheusBinary('prometheus'), [
      `--config.file=${path.join(this.dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(this.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${this.prometheusPort}`, '--log.level=warn',
    ], { cwd: this.dir });
    const ready = await poll(async () => {
      if (!this.prometheus!.running) throw new Error(`prometheus exited:\n${this.prometheus!.log}`);
      return (await httpGet(this.prometheusPort, '/-/ready', 1000).catch(() => ({ status: 0 }))).status === 200 ? true : undefined;
    }, Date.now() + 30_000, 200);
    if (ready instanceof Error) throw new Error(`the release test's Prometheus did not become ready: ${ready.message}`);
  }

  /** One pass: a process for every Running pod, none for pods gone, Services' selectors, targets. */
  private async followPods(): Promise<void> {
    if (this.following || this.stopped) return;
    this.following = true;
    try {
      const core = this.options.kubeConfig.makeApiClient(CoreV1Api);
      const selector = `app.kubernetes.io/name in (${this.options.engines.join(',')})`;
      const [pods, services] = await Promise.all([
        core.listNamespacedPod({ namespace: this.options.namespace, labelSelector: selector }),
        core.listNamespacedService({ namespace: this.options.namespace }),
      ]);
      for (const engine of this.options.engines) {
        const service = services.items.find((s) => s.metadata?.name === engine);
        if (service?.spec?.selector) this.selectors.set(engine, service.spec.selector);
      }
      const live = pods.items.filter((pod) => pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp);
      const names = new Set(live.map((pod) => pod.metadata!.name!));
      const gone = [...this.pods.values()].filter((pod) => !names.has(pod.pod));
      if (gone.length > 0) {
        // Their targets leave Prometheus before their processes stop, so that no scrape of a
        // stopped pod's port can reach another process under the gone pod's labels.
        for (const pod of gone) this.pods.delete(pod.pod);
        this.writeTargets();
        await Promise.all(gone.map((pod) => pod.process.stop(2000)));
      }
      let changed = false;
      for (const pod of live) {
        const known = this.pods.get(pod.metadata!.name!);
        if (known) {
          known.ready = isReady(pod);
          continue;
        }
        this.pods.set(pod.metadata!.name!, await this.startPod(pod));
        changed = true;
      }
      if (changed || this.pods.size !== names.size) this.writeTargets();
    } catch (error) {
      this.errors.push(error instanceof Error ? error.message : String(error));
    } finally {
      this.following = false;
    }
  }

  private async startPod(pod: V1Pod): Promise<PodProcess> {
    const engine = pod.metadata!.labels!['app.kubernetes.io/name'];
    const image = pod.spec!.containers[0].image ?? '';
    const tag = image.slice(image.lastIndexOf(':') + 1);
    // A port is never given to two pods of one run: a new version's process on a port an old
    // version's target still names would be scraped under the old pod's labels (Prometheus reads
    // the targets file asynchronously), mixing the versions' error ratios.
    let port = await freePort();
    while (this.usedPorts.has(port)) port = await freePort();
    this.usedPorts.add(port);
    // Ahead of the other lanes' work on the shared cores (nice -10): what the analyses measure is
    // the version's latency, not the machine's load (a starved event loop read 13 to 64 ms at p99
    // against the tier's 10 ms objective while three lanes ran side by side).
    const process = new ManagedProcess(`release/${pod.metadata!.name}`, 'nice', ['-n', String(STAND_IN_NICENESS), globalThis.process.execPath, this.bundle], {
      cwd: this.dir,
      env: {
        PATH: globalThis.process.env.PATH ?? '',
        ...this.options.environment(engine),
        RELEASE_ENGINE: engine,
        RELEASE_PORT: String(port),
        RELEASE_FAILURE_RATIO: String(this.options.failureRatio(tag)),
        RELEASE_ENGINES_DIR: path.join(REPOSITORY, 'src', 'engines'),
      },
    });
    return { pod: pod.metadata!.name!, engine, tag, port, labels: pod.metadata!.labels ?? {}, process, ready: isReady(pod) };
  }

  private writeTargets(): void {
    const targets = [...this.pods.values()].map((p) => ({
      targets: [`127.0.0.1:${p.port}`],
      // The labels the operator gives a ServiceMonitor's targets, which the analyses select on.
      labels: { [SCRAPE_LABELS.namespace]: this.options.namespace, [SCRAPE_LABELS.engine]: p.engine, [SCRAPE_LABELS.pod]: p.pod },
    }));
    const temporary = `${this.targetsFile}.tmp`;
    fs.writeFileSync(temporary, JSON.stringify(targets));
    fs.renameSync(temporary, this.targetsFile);
  }

  /** kube-proxy's part: each Ready pod the engine's Service selects gets its share of requests. */
  private sendLoad(): void {
    const perTick = this.options.requestsPerPodPerSecond / 10;
    for (const engine of this.options.engines) {
      if (this.quiet.has(engine)) continue;
      const selector = this.selectors.get(engine);
      if (!selector) continue;
      const endpoints = [...this.pods.values()].filter((p) => p.engine === engine && p.ready
        && Object.entries(selector).every(([key, value]) => p.labels[key] === value));
      for (const endpoint of endpoints) {
        // Fractional rates are sent on average: 0.5 per tick is one request every other tick.
        const count = Math.floor(perTick) + (Math.random() < perTick % 1 ? 1 : 0);
        for (let i = 0; i < count; i++) httpGet(endpoint.port, '/quotes', 2000).catch(() => undefined);
      }
    }
  }

  /** Stops the loops, every process and Prometheus, and removes the directory. */
  public async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    await Promise.all([...this.pods.values()].map((p) => p.process.stop(2000)));
    this.pods.clear();
    await this.prometheus?.stop(5000);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}
