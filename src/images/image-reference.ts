import { createHash } from 'crypto';

/** One file of an image's build input, as read at the entry point. */
export interface BuildInputFile {
  /** Path relative to the build context, with `/` separators. */
  readonly path: string;
  readonly content: Buffer;
}

/**
 * The content-addressed tag of an image: a hash of its Dockerfile and every file the Dockerfile
 * copies from the build context. Identical input gives an identical tag on any machine.
 */
export function contentTag(files: readonly BuildInputFile[]): string {
  const hash = createHash('sha256');
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    hash.update(file.path).update('\0').update(String(file.content.length)).update('\0').update(file.content);
  }
  return `sha-${hash.digest('hex').slice(0, 16)}`;
}

/**
 * The `COPY`/`ADD` sources of a Dockerfile that come from the build context (not from another
 * stage), in order. Handles flags (`--chown=...`), JSON-array form and line continuations.
 */
export function dockerfileContextSources(dockerfile: string): string[] {
  const joined = dockerfile.replace(/\\\r?\n/g, ' ');
  const sources: string[] = [];
  for (const rawLine of joined.split(/\r?\n/)) {
    const line = rawLine.trim();
    const match = /^(COPY|ADD)\s+(.*)$/i.exec(line);
    if (!match) continue;
    let rest = match[2].trim();
    const flags: string[] = [];
    while (rest.startsWith('--')) {
      const [flag, ...tail] = rest.split(/\s+/);
      flags.push(flag);
      rest = tail.join(' ');
    }
    if (flags.some((f) => f.startsWith('--from='))) continue;
    const args = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
    sources.push(...args.slice(0, -1));
  }
  return sources;
}

/** A built image's pinned digest, as recorded in images.lock.json. */
export interface LockedImage {
  /** The content tag the digest was built from; a digest for other content is stale and ignored. */
  readonly tag: string;
  /** `sha256:<64 hex>`. */
  readonly digest: string;
}

/** The parsed images.lock.json: engine name → locked image. */
export type ImageLock = Readonly<Record<string, LockedImage>>;

/** Where each engine's image comes from in one environment. */
export interface ImageReference {
  readonly repository: string;
  readonly tag: string;
  readonly digest?: string;
}

/** Renders `repository:tag` or `repository:tag@sha256:...` when the lock file pins it. */
export function formatImageReference(image: ImageReference): string {
  return `${image.repository}:${image.tag}${image.digest ? `@${image.digest}` : ''}`;
}

/** The image reference of one engine in one registry, pinned by digest when the lock matches. */
export function resolveImage(engineName: string, registry: string, tag: string, lock: ImageLock): ImageReference {
  const locked = lock[engineName];
  return {
    repository: `${registry}/${engineName}`,
    tag,
    digest: locked && locked.tag === tag ? locked.digest : undefined,
  };
}
