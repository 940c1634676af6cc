/**
 * The lock-file step of the image build: records the digest of every image just built in
 * images.lock.json, so synthesis pins `repo:tag@sha256:...` (see src/engines/README.md).
 *
 *   npx ts-node scripts/record-image-digests.ts --plan dist/images/build-plan.json \
 *     --metadata bake-metadata.json [--lock images.lock.json]
 *   docker buildx imagetools inspect ... | awk ... | \
 *     npx ts-node scripts/record-image-digests.ts --plan dist/images/build-plan.json --digests -
 *
 * --metadata takes what `docker buildx bake --metadata-file` (one object per target) or
 * `docker buildx build --metadata-file` (one object) writes: `containerimage.digest` and
 * `image.name`. --digests takes lines `<engine or image[:tag]> sha256:<hex>` ('-' is stdin).
 * Entries of engines not rebuilt are kept; entries of engines no longer in the plan are dropped.
 */
import { existsSync, readFileSync, writeFileSync } from 'fs';
import { ImageLock, LockedImage } from '../src/images/image-reference';

/** A digest as a build reported it, before it is matched to an engine. */
export interface DigestRecord {
  /** An engine name, or image references (`repo`, `repo:tag`). */
  readonly names: readonly string[];
  readonly digest: string;
  /** Where it came from, for error messages. */
  readonly source: string;
}

/** The part of dist/images/build-plan.json this script reads. */
export interface PlanRows {
  readonly include: ReadonlyArray<{ readonly engine: string; readonly image: string; readonly tag: string }>;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

function checkDigest(digest: unknown, source: string): string {
  if (typeof digest !== 'string' || !DIGEST.test(digest)) {
    throw new Error(`${source}: digest is ${JSON.stringify(digest)}; expected sha256:<64 lowercase hex>`);
  }
  return digest;
}

/** Reads buildx metadata: a bake file (target → metadata) or a single build's metadata. */
export function parseBuildMetadata(metadata: unknown): DigestRecord[] {
  if (typeof metadata !== 'object' || metadata === null) throw new Error('build metadata: expected a JSON object');
  const object = metadata as Record<string, unknown>;
  const single = (entry: Record<string, unknown>, source: string): DigestRecord => {
    const names = typeof entry['image.name'] === 'string' ? (entry['image.name'] as string).split(',').map((n) => n.trim()).filter((n) => n !== '') : [];
    if (names.length === 0) throw new Error(`${source}: no image.name; build with --push or an image output so the name is recorded`);
    return { names, digest: checkDigest(entry['containerimage.digest'], source), source };
  };
  if ('containerimage.digest' in object) return [single(object, 'build metadata')];
  return Object.entries(object)
    .filter(([key, value]) => !key.startsWith('buildx.') && typeof value === 'object' && value !== null)
    .map(([target, value]) => single(value as Record<string, unknown>, `bake target ${target}`));
}

/** Reads `name digest` lines; blank lines and `#` comments are skipped. */
export function parseDigestLines(text: string): DigestRecord[] {
  const records: DigestRecord[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    const source = `line ${index + 1}`;
    if (parts.length !== 2) throw new Error(`${source}: ${JSON.stringify(line)}; expected "<engine or image[:tag]> sha256:<hex>"`);
    records.push({ names: [parts[0]], digest: checkDigest(parts[1], source), source });
  });
  return records;
}

/** Splits `registry:5000/path/name:tag` into repository and tag (a digest suffix is ignored). */
function splitReference(reference: string): { repository: string; tag?: string } {
  const withoutDigest = reference.split('@')[0];
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  return colon > slash ? { repository: withoutDigest.slice(0, colon), tag: withoutDigest.slice(colon + 1) } : { repository: withoutDigest };
}

/**
 * The lock entries the records give, matched to the plan's engines by engine name, image or last
 * path segment. A record whose tag is not the plan's tag was built from other content: an error.
 */
export function lockEntries(plan: PlanRows, records: readonly DigestRecord[]): Record<string, LockedImage> {
  const entries: Record<string, LockedImage> = {};
  for (const record of records) {
    let matched = false;
    for (const name of record.names) {
      const { repository, tag } = splitReference(name);
      const row = plan.include.find((r) => r.engine === repository || r.image === repository || repository.endsWith(`/${r.engine}`));
      if (!row) continue;
      if (tag !== undefined && tag !== row.tag) {
        throw new Error(`${record.source}: ${name} has tag ${tag} but the build plan builds ${row.engine} as ${row.tag}; rebuild from the current plan`);
      }
      const previous = entries[row.engine];
      if (previous && previous.digest !== record.digest) {
        throw new Error(`${record.source}: ${row.engine} has two digests, ${previous.digest} and ${record.digest}`);
      }
      entries[row.engine] = { tag: row.tag, digest: record.digest };
      matched = true;
    }
    if (!matched) throw new Error(`${record.source}: ${record.names.join(', ')} is no engine of the build plan`);
  }
  return entries;
}

/** The new lock: the old one less engines gone from the plan, with the new entries applied. */
export function mergeLock(existing: ImageLock, plan: PlanRows, entries: Readonly<Record<string, LockedImage>>): ImageLock {
  const engines = new Set(plan.include.map((r) => r.engine));
  const merged: Record<string, LockedImage> = {};
  for (const engine of [...new Set([...Object.keys(existing), ...Object.keys(entries)])].sort()) {
    if (!engines.has(engine)) continue;
    merged[engine] = entries[engine] ?? existing[engine];
  }
  return merged;
}

/** images.lock.json as written: engines sorted, two-space indent, trailing newline. */
export function renderLock(lock: ImageLock): string {
  return `${JSON.stringify(lock, null, 2)}\n`;
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

function main(): void {
  const planPath = argument('--plan') ?? 'dist/images/build-plan.json';
  const lockPath = argument('--lock') ?? 'images.lock.json';
  const metadataPath = argument('--metadata');
  const digestsPath = argument('--digests');
  if ((metadataPath === undefined) === (digestsPath === undefined)) {
    throw new Error('give exactly one of --metadata <buildx metadata.json> or --digests <file or ->');
  }
  if (!existsSync(planPath)) throw new Error(`${planPath} not found: run npm run synth first`);
  const plan = JSON.parse(readFileSync(planPath, 'utf8')) as PlanRows;
  const records = metadataPath !== undefined
    ? parseBuildMetadata(JSON.parse(readFileSync(metadataPath, 'utf8')))
    : parseDigestLines(readFileSync(digestsPath === '-' ? 0 : digestsPath!, 'utf8'));
  const existing = existsSync(lockPath) ? (JSON.parse(readFileSync(lockPath, 'utf8')) as ImageLock) : {};
  const entries = lockEntries(plan, records);
  writeFileSync(lockPath, renderLock(mergeLock(existing, plan, entries)));
  process.stdout.write(`${lockPath}: recorded ${Object.keys(entries).sort().join(', ') || 'nothing'}\n`);
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    process.stderr.write(`record-image-digests: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
