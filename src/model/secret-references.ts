/** An object as the manifests hold it: enough to find the Secrets it reads or produces. */
export interface ManifestObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name?: string; readonly namespace?: string };
  readonly [field: string]: unknown;
}

/** A Secret the manifests read, and the keys they read from it. */
export interface SecretReference {
  readonly namespace: string;
  readonly name: string;
  readonly keys: readonly string[];
  /** Objects that read it, for messages (`Deployment nautilus-engines/backend`). */
  readonly readers: readonly string[];
  /** The ExternalSecret of the manifests that produces it, if one does: the secret manager then provides it. */
  readonly producedBy?: ProducingExternalSecret;
}

/** An ExternalSecret producing a Secret, and the secret manager's entries it reads. */
export interface ProducingExternalSecret {
  readonly name: string;
  /** `<store>: <remote key> [properties]`, one per entry read. */
  readonly entries: readonly string[];
  /** The keys it writes into the Secret. */
  readonly keys: readonly string[];
}

const describe = (object: ManifestObject) =>
  `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`;

interface ExternalSecretSpec {
  readonly secretStoreRef?: { readonly name?: string };
  readonly target?: { readonly name?: string };
  readonly data?: ReadonlyArray<{ readonly secretKey?: string; readonly remoteRef?: { readonly key?: string; readonly property?: string } }>;
}

/** Each Secret the manifests' ExternalSecrets produce, by `<namespace>/<name>`. */
function producedSecrets(manifests: readonly ManifestObject[]): Map<string, ProducingExternalSecret> {
  const produced = new Map<string, ProducingExternalSecret>();
  for (const object of manifests) {
    if (object.kind !== 'ExternalSecret' || !object.apiVersion.startsWith('external-secrets.io/')) continue;
    const spec = (object.spec ?? {}) as ExternalSecretSpec;
    const data = spec.data ?? [];
    const byKey = new Map<string, string[]>();
    for (const item of data) {
      const key = item.remoteRef?.key ?? '';
      byKey.set(key, [...(byKey.get(key) ?? []), item.remoteRef?.property ?? '(whole entry)']);
    }
    produced.set(`${object.metadata.namespace ?? 'default'}/${spec.target?.name ?? object.metadata.name}`, {
      name: object.metadata.name ?? '',
      entries: [...byKey.entries()].map(([key, properties]) => `${spec.secretStoreRef?.name ?? '?'}: ${key} [${properties.join(', ')}]`),
      keys: data.map((item) => item.secretKey ?? '').sort(),
    });
  }
  return produced;
}

/**
 * Every Secret the manifests reference (`secretKeyRef`, `envFrom.secretRef`, `secret` volumes),
 * per namespace, with the keys read, and the ExternalSecret producing it where there is one;
 * Secrets the manifests define themselves are left out. Derived from the manifests, so it follows
 * whatever they say: synthesis checks that every reference is produced, the deploy tool's
 * preflight that every one exists.
 */
export function secretReferences(manifests: readonly ManifestObject[]): SecretReference[] {
  const found = new Map<string, { namespace: string; name: string; keys: Set<string>; readers: Set<string> }>();
  const note = (object: ManifestObject, name: string, key?: string) => {
    const namespace = object.metadata.namespace ?? 'default';
    const id = `${namespace}/${name}`;
    const entry = found.get(id) ?? { namespace, name, keys: new Set<string>(), readers: new Set<string>() };
    if (key) entry.keys.add(key);
    entry.readers.add(describe(object));
    found.set(id, entry);
  };
  const walk = (object: ManifestObject, value: unknown) => {
    if (Array.isArray(value)) {
      for (const item of value) walk(object, item);
    } else if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      const keyRef = record.secretKeyRef as { name?: string; key?: string } | undefined;
      if (keyRef?.name) note(object, keyRef.name, keyRef.key);
      const envFrom = record.secretRef as { name?: string } | undefined;
      if (envFrom?.name) note(object, envFrom.name);
      const volume = record.secret as { secretName?: string } | undefined;
      if (volume?.secretName) note(object, volume.secretName);
      for (const [field, child] of Object.entries(record)) {
        if (field !== 'metadata') walk(object, child);
      }
    }
  };
  for (const manifest of manifests) {
    if (manifest.kind !== 'Secret') walk(manifest, manifest);
  }
  const provided = new Set(manifests.filter((m) => m.kind === 'Secret').map((m) => `${m.metadata.namespace}/${m.metadata.name}`));
  const produced = producedSecrets(manifests);
  return [...found.entries()]
    .filter(([id]) => !provided.has(id))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, entry]) => ({
      namespace: entry.namespace, name: entry.name, keys: [...entry.keys].sort(), readers: [...entry.readers].sort(),
      ...(produced.has(id) ? { producedBy: produced.get(id) } : {}),
    }));
}
