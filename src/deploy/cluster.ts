import * as https from 'https';
import {
  ApiException, ApisApi, AppsV1Api, BatchV1Api, CoreV1Api, CoreV1Event, CustomObjectsApi, KubeConfig, KubernetesObjectApi, PatchStrategy, RequestContext, setHeaderOptions,
  V1APIResource, V1Job, V1Pod, VersionApi,
} from '@kubernetes/client-node';
// The object API's own serializer: the package's index does not export it, and its model
// registry is the one `KubernetesObjectApi` consults (the package has no exports map to forbid this).
import { ObjectSerializer, Serializer } from '@kubernetes/client-node/dist/serializer.js';
import { describeObject, KubeObject, objectKey } from './objects';

/** One field another field manager owns, from a server-side apply conflict. */
export interface FieldConflict {
  /** The field path as the API server names it, e.g. `.spec.replicas`. */
  readonly field: string;
  /** The server's message, naming the manager that owns the field. */
  readonly message: string;
}

/** A server-side apply refused because fields belong to another manager (HTTP 409). */
export class ConflictError extends Error {
  constructor(
    /** The object whose apply conflicted. */
    public readonly object: string,
    /** Each conflicting field. */
    public readonly conflicts: readonly FieldConflict[],
  ) {
    super(`${object}: ${conflicts.map((c) => c.message).join('; ')}`);
  }
}

/** Options of a server-side apply. */
export interface ApplyOptions {
  /** Field manager recorded in managedFields. */
  readonly fieldManager: string;
  /** Take over fields owned by other managers instead of failing with a {@link ConflictError}. */
  readonly force: boolean;
  /** Admit and default without persisting (`dryRun=All`). */
  readonly dryRun: boolean;
}

/** The Kubernetes Status body of a failed request. */
interface StatusBody {
  readonly message?: string;
  readonly reason?: string;
  readonly details?: { readonly causes?: readonly { readonly field?: string; readonly message?: string }[] };
}

/** Hands an object through unchanged, in both directions. */
const PASS_THROUGH: Serializer = { serialize: (data: unknown) => data, deserialize: (data: unknown) => data };
const verbatimKinds = new Set<string>();

/**
 * Makes client-node's object API send and return objects of a kind (and its lists) as plain JSON,
 * exactly as synthesized or as the API server sent them. Its typed models rename the fields named
 * like reserved words (a NetworkPolicy rule's `from`, a LimitRange item's and a CRD schema's
 * `default`, `enum`, ...) and, since client-node 1.2, silently drop them when they serialize a
 * plain object (kubernetes-client/javascript#2825): applied through them, every NetworkPolicy
 * ingress rule admitted all sources. A registered model (its documented way to add a custom
 * resource) is used before the typed ones.
 */
function sendVerbatim(apiVersion: string, kind: string): void {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  for (const each of [kind, `${kind}List`]) {
    const key = `${apiVersion}/${each}`;
    if (verbatimKinds.has(key)) continue;
    verbatimKinds.add(key);
    try {
      ObjectSerializer.registerModel({ group, version, kind: each }, PASS_THROUGH);
    } catch {
      // Registered already, by another client in this process: its model stands.
    }
  }
}

/**
 * A kubeconfig whose requests share one pool of keep-alive connections. client-node gives every
 * request a new https.Agent (in `applySecurityAuthentication`), so each of the hundreds of
 * requests a diff of prod makes paid its own TCP connection and TLS handshake with the client
 * certificate: most of the time the tool took beyond kubectl's. The first request's agent options
 * (CA, client certificate and key, as client-node reads them from the kubeconfig) make one
 * keep-alive agent that the later requests reuse. Proxies keep client-node's own agents.
 */
export class PooledKubeConfig extends KubeConfig {
  private pooled: https.Agent | undefined;

  public override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getAgent();
    if (fresh?.constructor !== https.Agent) return;
    // No maxSockets: a request queued on the agent for a socket that another response is still
    // finishing makes node-fetch 2 (client-node's HTTP client) fail that response with "Premature
    // close" (node-fetch/node-fetch#1767). The tool bounds its requests in flight itself.
    this.pooled ??= new https.Agent({ ...(fresh as https.Agent).options, keepAlive: true });
    context.setAgent(this.pooled);
  }
}

/** Requests the tool keeps in flight at once: enough to hide each one's round trip, few enough not to crowd the API server. */
export const MAX_CONCURRENT_REQUESTS = 16;

/**
 * Runs `task` on every item, at most `limit` at a time; results in the items' order. (p-limit and
 * p-map do this, but are ES modules only since their current majors, which the tool's CommonJS
 * build and the tests cannot require; this is their core in a dozen lines.)
 */
export async function mapConcurrently<T, R>(items: readonly T[], task: (item: T) => Promise<R>, limit = MAX_CONCURRENT_REQUESTS): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await task(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A discovery client that exposes whether a kind is served (client-node keeps that protected). */
class DiscoveringObjectApi extends KubernetesObjectApi {
  public async served(apiVersion: string, kind: string): Promise<V1APIResource | undefined> {
    try {
      return await this.resource(apiVersion, kind);
    } catch (error) {
      // The whole group/version is not served: a 404 on discovery.
      if (error instanceof ApiException && error.code === 404) return undefined;
      if (error instanceof Error && /HTTP-Code: 404/.test(error.message)) return undefined;
      throw error;
    }
  }
}

/** The cluster of a kubeconfig context, through @kubernetes/client-node. */
export class Cluster {
  private readonly objects: DiscoveringObjectApi;
  /** Core API (pods, events, secrets). */
  public readonly core: CoreV1Api;
  /** Apps API. */
  public readonly apps: AppsV1Api;
  /** Batch API (Jobs). */
  public readonly batch: BatchV1Api;
  private readonly versions: VersionApi;
  private groups: Promise<Map<string, string>> | undefined;
  private serverVersion: Promise<{ major: number; minor: number; gitVersion: string }> | undefined;

  constructor(public readonly kubeConfig: KubeConfig) {
    this.objects = kubeConfig.makeApiClient(DiscoveringObjectApi);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.batch = kubeConfig.makeApiClient(BatchV1Api);
    this.versions = kubeConfig.makeApiClient(VersionApi);
  }

  /** The API server URL of the context. */
  public get server(): string {
    return this.kubeConfig.getCurrentCluster()?.server ?? '(no server)';
  }

  /** The API server's version (`/version`), asked once. */
  public version(): Promise<{ major: number; minor: number; gitVersion: string }> {
    this.serverVersion ??= this.versions.getCode().then(
      (info) => ({ major: Number.parseInt(info.major, 10), minor: Number.parseInt(info.minor, 10), gitVersion: info.gitVersion }),
    );
    return this.serverVersion;
  }

  /** The resource serving `kind` in `apiVersion`, or `undefined` when the server does not serve it. */
  public served(apiVersion: string, kind: string): Promise<V1APIResource | undefined> {
    return this.objects.served(apiVersion, kind);
  }

  /** Installs `crd` when `kind` is not served yet, and waits until the server serves it. */
  public async ensureKind(crd: KubeObject, apiVersion: string, kind: string, fieldManager: string): Promise<void> {
    if (await this.served(apiVersion, kind)) return;
    await this.apply(crd, { fieldManager, force: true, dryRun: false });
    const deadline = Date.now() + 30_000;
    while (!(await this.served(apiVersion, kind))) {
      if (Date.now() > deadline) throw new Error(`the API server did not start serving ${kind}.${apiVersion} within 30 s of creating its CRD`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** The live object, or `undefined` when it does not exist. */
  public async read(object: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): Promise<KubeObject | undefined> {
    // A kind the server does not serve (a CRD not installed yet) has no live objects.
    if (!(await this.served(object.apiVersion, object.kind))) return undefined;
    sendVerbatim(object.apiVersion, object.kind);
    try {
      const header = { apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata.name, namespace: object.metadata.namespace } };
      return plain(await this.objects.read(header)) as KubeObject;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw requestError(`reading ${describeObject(object)}`, error);
    }
  }

  /**
   * The live objects of `objects`, by {@link objectKey}: one list per kind and namespace instead of
   * one read per object (prod's 189 objects take about 40 lists, issued side by side). Kinds the
   * server does not serve have none.
   */
  public async readAll(objects: readonly KubeObject[]): Promise<Map<string, KubeObject>> {
    const groups = new Map<string, KubeObject>();
    for (const object of objects) groups.set(`${object.apiVersion}|${object.kind}|${object.metadata.namespace ?? ''}`, object);
    const wanted = new Set(objects.map(objectKey));
    const lists = await mapConcurrently([...groups.values()], async (sample) => {
      if (!(await this.served(sample.apiVersion, sample.kind))) return [];
      // A namespace that does not exist yet has no objects: its list is empty, not an error.
      return this.list(sample.apiVersion, sample.kind, '', sample.metadata.namespace);
    });
    return new Map(lists.flat().filter((object) => wanted.has(objectKey(object))).map((object) => [objectKey(object), object]));
  }

  /** Server-side apply; a 409 becomes a {@link ConflictError} naming each field and its owner. */
  public async apply(object: KubeObject, options: ApplyOptions): Promise<KubeObject> {
    sendVerbatim(object.apiVersion, object.kind);
    try {
      const result = await this.objects.patch(
        structuredClone(object), undefined, options.dryRun ? 'All' : undefined, options.fieldManager, options.force, PatchStrategy.ServerSideApply,
      );
      return plain(result) as KubeObject;
    } catch (error) {
      if (error instanceof ApiException && error.code === 409) {
        const body = statusBody(error);
        const causes = body?.details?.causes ?? [];
        throw new ConflictError(
          describeObject(object),
          causes.length > 0
            ? causes.map((cause) => ({ field: cause.field ?? '', message: cause.message ?? '' }))
            : [{ field: '', message: body?.message ?? 'conflict' }],
        );
      }
      throw requestError(`applying ${describeObject(object)}`, error);
    }
  }

  /**
   * Every object of a kind in `namespace` (every namespace, or cluster-wide, without one) matching
   * `labelSelector`. Just after a CRD is created its kind is served before its storage is ready;
   * the server answers 429 until then, and the list is retried for up to 30 s.
   */
  public async list(apiVersion: string, kind: string, labelSelector: string, namespace?: string): Promise<KubeObject[]> {
    sendVerbatim(apiVersion, kind);
    const deadline = Date.now() + 30_000;
    try {
      let list;
      for (;;) {
        try {
          list = await this.objects.list(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector || undefined);
          break;
        } catch (error) {
          if (!(error instanceof ApiException && error.code === 429) || Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
      return list.items.map((item) => ({ ...(plain(item) as KubeObject), apiVersion, kind }));
    } catch (error) {
      throw requestError(`listing ${kind} (${apiVersion})`, error);
    }
  }

  /**
   * A JSON merge patch of a custom resource (or of its `status` subresource), as the Argo Rollouts
   * plugin sends its promote and abort. False when the server answers 404: the object is gone, or
   * the kind has no such subresource.
   */
  public async mergePatch(object: KubeObject, body: Record<string, unknown>, subresource?: 'status'): Promise<boolean> {
    const resource = await this.served(object.apiVersion, object.kind);
    const [group, version] = object.apiVersion.split('/');
    if (!resource || !version) throw new Error(`the cluster does not serve ${object.kind} (${object.apiVersion}): ${describeObject(object)} cannot be patched`);
    const api = this.kubeConfig.makeApiClient(CustomObjectsApi);
    const target = { group, version, plural: resource.name, name: object.metadata.name, body };
    const options = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const namespace = object.metadata.namespace ?? '';
    try {
      if (subresource === 'status') {
        await (resource.namespaced ? api.patchNamespacedCustomObjectStatus({ ...target, namespace }, options) : api.patchClusterCustomObjectStatus(target, options));
      } else {
        await (resource.namespaced ? api.patchNamespacedCustomObject({ ...target, namespace }, options) : api.patchClusterCustomObject(target, options));
      }
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw requestError(`patching ${describeObject(object)}${subresource ? ` (${subresource})` : ''}`, error);
    }
  }

  /** Deletes the object (background cascading, as kubectl); absent objects are not an error. */
  public async delete(object: KubeObject, dryRun: boolean): Promise<void> {
    sendVerbatim(object.apiVersion, object.kind);
    try {
      await this.objects.delete(object, undefined, dryRun ? 'All' : undefined, undefined, undefined, 'Background');
    } catch (error) {
      if (isNotFound(error)) return;
      throw requestError(`deleting ${describeObject(object)}`, error);
    }
  }

  /** The preferred `group/version` of every API group the server serves, by group. */
  public async apiGroups(): Promise<Map<string, string>> {
    this.groups ??= this.kubeConfig.makeApiClient(ApisApi).getAPIVersions().then(
      (list) => new Map(list.groups.map((group) => [group.name, group.preferredVersion?.groupVersion ?? group.versions[0].groupVersion])),
    );
    return this.groups;
  }

  /** Pods of a namespace. */
  public async pods(namespace: string): Promise<V1Pod[]> {
    return (await this.core.listNamespacedPod({ namespace })).items;
  }

  /**
   * The last lines a container wrote, through the kubelet; `previous` reads the run before the
   * current one (what a crash-looping container said before it died). Empty when there is none.
   */
  public async containerLog(namespace: string, pod: string, container: string, previous: boolean, tailLines: number): Promise<string[]> {
    try {
      const text = String(await this.core.readNamespacedPodLog({ namespace, name: pod, container, previous, tailLines }));
      // The kubelet answers a log it no longer has with this sentence rather than an error.
      if (text.startsWith('unable to retrieve container logs')) return [];
      return text.split('\n').filter((line) => line.trim() !== '');
    } catch {
      // No previous run, a container not started yet, or a node that does not serve logs.
      return [];
    }
  }

  /** Jobs of a namespace, as plain JSON (timestamps as the server wrote them). */
  public async jobs(namespace: string): Promise<KubeObject[]> {
    const list = await this.batch.listNamespacedJob({ namespace });
    return list.items.map((job: V1Job) => ({ ...(plain(job) as KubeObject), apiVersion: 'batch/v1', kind: 'Job' }));
  }

  /** Events about an object (about every object of the kind without a name), newest last. */
  public async events(namespace: string, kind: string, name?: string): Promise<CoreV1Event[]> {
    const fieldSelector = `involvedObject.kind=${kind}${name === undefined ? '' : `,involvedObject.name=${name}`}`;
    const list = await this.core.listNamespacedEvent({ namespace, fieldSelector });
    const time = (event: CoreV1Event) => new Date(event.lastTimestamp ?? event.eventTime ?? event.metadata.creationTimestamp ?? 0).getTime();
    return list.items.sort((a, b) => time(a) - time(b));
  }
}

/**
 * client-node deserializes known kinds into model classes (dates as Date objects); the rest of
 * the tool works on plain JSON, as the API server sent it.
 */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

function isNotFound(error: unknown): boolean {
  return error instanceof ApiException && error.code === 404;
}

function statusBody(error: ApiException<unknown>): StatusBody | undefined {
  const body = error.body;
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody;
    } catch {
      return { message: body };
    }
  }
  return body as StatusBody | undefined;
}

/** An error naming what was being done and the API server's own message. */
export function requestError(doing: string, error: unknown): Error {
  if (error instanceof ApiException) {
    const body = statusBody(error);
    return new Error(`${doing} failed: HTTP ${error.code}: ${body?.message ?? String(error.body)}`);
  }
  return new Error(`${doing} failed: ${error instanceof Error ? error.message : String(error)}`);
}

/** Where a failure happened: the cluster's address and the kubeconfig context that named it. */
export interface ClusterTarget {
  readonly server: string;
  readonly context: string;
}

/**
 * One line for a failure to talk to the cluster, naming the cluster, the cause and the fix:
 * unreachable, untrusted certificate, refused credentials (401) or a forbidden verb (403).
 * Undefined for any other failure, which keeps its own message.
 */
export function clusterFailure(error: unknown, target: ClusterTarget): string | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof ApiException ? error.code : Number(/HTTP(?:-Code)?:? (\d{3})/.exec(message)?.[1] ?? 0);
  const where = `cluster ${target.server} (context ${target.context})`;
  const network = /\b(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ECONNRESET|EAI_AGAIN)\b/.exec(message);
  if (network) {
    return `${where} cannot be reached (${network[1]}). Fix: check that the cluster is up and that --context/--kubeconfig point at it`;
  }
  if (/certificate|self[- ]signed|UNABLE_TO_VERIFY|CERT_/i.test(message)) {
    return `${where} presents a certificate this kubeconfig does not trust (${message.replace(/^.*reason: /, '')}). Fix: set the cluster's certificate-authority in the kubeconfig`;
  }
  if (code === 401) {
    return `${where} refused the context's credentials (HTTP 401 Unauthorized: an expired or revoked token or certificate). Fix: renew them (log in to the cluster again) or choose another --context`;
  }
  if (code === 403) {
    const reason = error instanceof ApiException ? statusBody(error)?.message : /HTTP 403: (.*)$/.exec(message)?.[1];
    return `${where} forbids it: ${reason ?? message}. Fix: grant the context's user that verb on that resource (RBAC), or choose another --context`;
  }
  return undefined;
}
