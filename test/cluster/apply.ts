import * as https from 'https';
import { KubeConfig } from '@kubernetes/client-node';

/** The parts of a manifest object the apply helper needs; everything else is sent as is. */
export interface ManifestObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
}

/** Options for {@link applyManifests}. */
export interface ApplyOptions {
  /** Field manager recorded in managedFields, e.g. `nautilus-k8s-test`. */
  readonly fieldManager: string;
  /**
   * Take ownership of fields another manager set (`force=true`), as `kubectl apply --server-side --force-conflicts`.
   * @default true
   */
  readonly force?: boolean;
  /**
   * Validate and admit without persisting (`dryRun=All`).
   * @default false
   */
  readonly dryRun?: boolean;
  /**
   * Namespace for namespaced objects that carry none.
   * @default the kubeconfig context's namespace, else `default`
   */
  readonly defaultNamespace?: string;
  /**
   * How long to keep retrying when an object's kind is not served yet (a CRD
   * applied earlier in the same call is still being established), in milliseconds.
   * @default 30000
   */
  readonly discoveryTimeoutMs?: number;
}

/** One `Warning` header the API server returned, e.g. from PodSecurity admission. */
export interface ApplyWarning {
  /** The object that drew the warning: `Kind namespace/name` or `Kind name`. */
  readonly object: string;
  /** The warning text. */
  readonly message: string;
}

/** What {@link applyManifests} did. */
export interface ApplyResult {
  /** Every warning returned, in apply order; a clean manifest set yields none. */
  readonly warnings: readonly ApplyWarning[];
  /** The objects as the API server returned them, in apply order. */
  readonly applied: readonly Record<string, unknown>[];
}

/** A raw API response. */
export interface KubeResponse {
  readonly status: number;
  readonly body: string;
  /** Texts of the `Warning` response headers. */
  readonly warnings: readonly string[];
}

/** Options for {@link kubeRequest}. */
export interface KubeRequestOptions {
  readonly method?: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly contentType?: string;
  /** @default application/json */
  readonly accept?: string;
  /** @default 30000 */
  readonly timeoutMs?: number;
}

/** Kinds applied before anything else, as kubectl does, so later objects can use them. */
const APPLY_FIRST = ['Namespace', 'CustomResourceDefinition'];

/**
 * Server-side applies `objects` (`PATCH` with `application/apply-patch+yaml`,
 * `fieldValidation=Strict`) and collects every `Warning` header the API server
 * sends, so a test can fail on PodSecurity or deprecation warnings. Namespaces
 * and CRDs go first; otherwise the given order is kept. Stops at the first
 * object the API server rejects, with an error naming it.
 *
 * @kubernetes/client-node 1.x does not expose response headers, hence the
 * plain HTTPS request; kinds are mapped to resources through API discovery,
 * cached per API server.
 */
export async function applyManifests(kc: KubeConfig, objects: readonly ManifestObject[], options: ApplyOptions): Promise<ApplyResult> {
  const ordered = [
    ...APPLY_FIRST.flatMap((kind) => objects.filter((object) => object.kind === kind)),
    ...objects.filter((object) => !APPLY_FIRST.includes(object.kind)),
  ];
  const defaultNamespace = options.defaultNamespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const warnings: ApplyWarning[] = [];
  const applied: Record<string, unknown>[] = [];
  for (const object of ordered) {
    const name = object.metadata?.name;
    if (!name) {
      throw new Error(`cannot apply a ${object.kind} without metadata.name (generateName does not work with server-side apply)`);
    }
    const resource = await resolveResource(kc, object.apiVersion, object.kind, options.discoveryTimeoutMs ?? 30_000);
    const namespace = resource.namespaced ? (object.metadata?.namespace ?? defaultNamespace) : undefined;
    const label = namespace ? `${object.kind} ${namespace}/${name}` : `${object.kind} ${name}`;
    const body = resource.namespaced && !object.metadata?.namespace ? { ...object, metadata: { ...object.metadata, namespace } } : object;
    const query: Record<string, string> = {
      fieldManager: options.fieldManager,
      fieldValidation: 'Strict',
      force: String(options.force ?? true),
    };
    if (options.dryRun) {
      query.dryRun = 'All';
    }
    const response = await kubeRequest(kc, resourcePath(object.apiVersion, resource.name, name, namespace), {
      method: 'PATCH',
      query,
      // JSON is YAML, and it keeps every value's type exactly.
      body: JSON.stringify(body),
      contentType: 'application/apply-patch+yaml',
    });
    warnings.push(...response.warnings.map((message) => ({ object: label, message })));
    if (response.status < 200 || response.status > 299) {
      throw new Error(`server-side apply of ${label} failed: HTTP ${response.status}: ${statusMessage(response.body)}`);
    }
    applied.push(JSON.parse(response.body) as Record<string, unknown>);
  }
  return { warnings, applied };
}

/**
 * One request to the API server with the kubeconfig's credentials (client
 * certificate, token, ...), returning status, body and `Warning` headers
 * without throwing on non-2xx answers.
 */
export async function kubeRequest(kc: KubeConfig, apiPath: string, options: KubeRequestOptions = {}): Promise<KubeResponse> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new Error(`kubeconfig context "${kc.getCurrentContext()}" has no cluster; load a kubeconfig first`);
  }
  const url = new URL(apiPath, cluster.server);
  for (const [key, value] of Object.entries(options.query ?? {})) {
    url.searchParams.set(key, value);
  }
  const requestOptions: https.RequestOptions = {
    method: options.method ?? 'GET',
    headers: { accept: options.accept ?? 'application/json', ...(options.contentType ? { 'content-type': options.contentType } : {}) },
    timeout: options.timeoutMs ?? 30_000,
  };
  await kc.applyToHTTPSOptions(requestOptions);
  return new Promise<KubeResponse>((resolve, reject) => {
    const request = https.request(url, requestOptions, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          warnings: warningTexts(response.rawHeaders),
        }),
      );
    });
    request.on('timeout', () => request.destroy(new Error(`${requestOptions.method} ${url.pathname} timed out`)));
    request.on('error', reject);
    request.end(options.body);
  });
}

/**
 * The texts of all `Warning` headers. rawHeaders keeps repeated headers apart,
 * which matters because a warning text may itself contain ", ".
 */
function warningTexts(rawHeaders: readonly string[]): string[] {
  const texts: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === 'warning') {
      texts.push(...parseWarningHeader(rawHeaders[i + 1]));
    }
  }
  return texts;
}

/** Parses `299 - "text"` values (RFC 7234 §5.5), several per header line allowed. */
export function parseWarningHeader(value: string): string[] {
  const texts: string[] = [];
  const pattern = /\s*(\d{3})\s+(\S+)\s+"((?:[^"\\]|\\.)*)"(?:\s+"[^"]*")?\s*(?:,|$)/y;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(value)) !== null) {
    texts.push(match[3].replace(/\\(.)/g, '$1'));
    if (pattern.lastIndex >= value.length) {
      break;
    }
  }
  return texts.length > 0 ? texts : [value];
}

interface ResolvedResource {
  readonly name: string;
  readonly namespaced: boolean;
}

interface ApiResourceList {
  readonly resources: readonly { readonly name: string; readonly kind: string; readonly namespaced: boolean }[];
}

/** Discovery documents per API server and group/version. */
const discoveryCache = new Map<string, Map<string, Promise<ApiResourceList | undefined>>>();

async function resolveResource(kc: KubeConfig, apiVersion: string, kind: string, timeoutMs: number): Promise<ResolvedResource> {
  const server = kc.getCurrentCluster()?.server ?? '';
  let perServer = discoveryCache.get(server);
  if (!perServer) {
    perServer = new Map();
    discoveryCache.set(server, perServer);
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let list = perServer.get(apiVersion);
    if (!list) {
      list = fetchResourceList(kc, apiVersion);
      perServer.set(apiVersion, list);
    }
    const found = (await list)?.resources.find((resource) => resource.kind === kind && !resource.name.includes('/'));
    if (found) {
      return { name: found.name, namespaced: found.namespaced };
    }
    // Not served (yet): forget the answer so that a CRD that is being
    // established is picked up on the next attempt.
    perServer.delete(apiVersion);
    if (Date.now() > deadline) {
      throw new Error(
        `the API server does not serve kind ${kind} in ${apiVersion}; check apiVersion/kind, or apply its CustomResourceDefinition first`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function fetchResourceList(kc: KubeConfig, apiVersion: string): Promise<ApiResourceList | undefined> {
  const response = await kubeRequest(kc, apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`);
  if (response.status === 404) {
    return undefined;
  }
  if (response.status !== 200) {
    throw new Error(`API discovery of ${apiVersion} failed: HTTP ${response.status}: ${statusMessage(response.body)}`);
  }
  return JSON.parse(response.body) as ApiResourceList;
}

/** Aggregated discovery (`/apis` as one document), the form kubectl reads and caches. */
const AGGREGATED_DISCOVERY = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

interface AggregatedDiscovery {
  readonly items: readonly {
    readonly metadata: { readonly name: string };
    readonly versions: readonly { readonly version: string; readonly resources: readonly { readonly responseKind?: { readonly kind: string } }[] }[];
  }[];
}

/**
 * Waits until the API server's aggregated discovery lists every kind that `crds` serve.
 *
 * A CRD is Established before the discovery controller publishes it, and kubectl maps kinds
 * through that published document: `kubectl apply` run in between fails with "resource mapping
 * not found ... ensure CRDs are installed first" for the kinds not published yet.
 */
export async function waitForCrdKindsServed(kc: KubeConfig, crds: readonly ManifestObject[], timeoutMs = 30_000): Promise<void> {
  const wanted = crds.flatMap((crd) => {
    const spec = crd.spec as { group: string; names: { kind: string }; versions: { name: string; served: boolean }[] };
    return spec.versions.filter((version) => version.served).map((version) => `${spec.group}/${version.name} ${spec.names.kind}`);
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await kubeRequest(kc, '/apis', { accept: AGGREGATED_DISCOVERY });
    if (response.status !== 200) {
      throw new Error(`aggregated API discovery failed: HTTP ${response.status}: ${statusMessage(response.body)}`);
    }
    const served = new Set(
      (JSON.parse(response.body) as AggregatedDiscovery).items.flatMap((group) =>
        group.versions.flatMap((version) => version.resources.map((resource) => `${group.metadata.name}/${version.version} ${resource.responseKind?.kind}`)),
      ),
    );
    const missing = wanted.filter((kind) => !served.has(kind));
    if (missing.length === 0) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`after ${timeoutMs} ms the API server's discovery still does not list: ${missing.join(', ')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function resourcePath(apiVersion: string, resource: string, name: string, namespace: string | undefined): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const scope = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${scope}/${resource}/${encodeURIComponent(name)}`;
}

/** The message of a Kubernetes Status body, or the raw body. */
function statusMessage(body: string): string {
  try {
    const status = JSON.parse(body) as { message?: string };
    return status.message ?? body;
  } catch {
    return body;
  }
}
