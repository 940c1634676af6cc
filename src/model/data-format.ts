/**
 * The on-disk format a data store's server writes, as versions of its parts: PostgreSQL's major
 * version and the TimescaleDB extension's minor line, Redis's minor line (each minor release may
 * raise the RDB version). A server older in any part may not read the files a newer one wrote,
 * so a rollback must never move one backwards. Decided by the store's kind from its image; carried
 * on the StatefulSet as an annotation, where the deploy tool reads it.
 */

/** Annotation on a store's StatefulSet: its data format, e.g. `postgresql=16,timescaledb=2.17`. */
export const DATA_FORMAT_ANNOTATION = 'nautilus.io/data-format';

/** Each part of the format with its version (dot-separated whole numbers), in a fixed order. */
export type DataFormat = ReadonlyArray<readonly [part: string, version: string]>;

/** `postgresql=16,timescaledb=2.17`. */
export function formatDataFormat(format: DataFormat): string {
  return format.map(([part, version]) => `${part}=${version}`).join(',');
}

/** The format an annotation names; undefined when it is absent or not of that shape. */
export function parseDataFormat(text: string | undefined): DataFormat | undefined {
  if (!text) return undefined;
  const parts = text.split(',').map((pair) => /^([a-z][a-z0-9-]*)=(\d+(?:\.\d+)*)$/.exec(pair));
  return parts.every((match) => match !== null) ? parts.map((match) => [match![1], match![2]] as const) : undefined;
}

/**
 * The parts `to` has older than `from` (a downgrade of the data format), e.g.
 * `["postgresql 16 -> 15"]`; parts only one of them names are not compared.
 */
export function dataFormatDowngrades(from: DataFormat, to: DataFormat): string[] {
  const older = (a: string, b: string): boolean => {
    const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
    for (let i = 0; i < Math.max(x.length, y.length); i += 1) {
      if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) < (y[i] ?? 0);
    }
    return false;
  };
  const before = new Map(from);
  return to.filter(([part, version]) => before.has(part) && older(version, before.get(part)!))
    .map(([part, version]) => `${part} ${before.get(part)} -> ${version}`);
}
