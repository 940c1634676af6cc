/**
 * A strict reader of the Prometheus text exposition format (0.0.4), stricter than Prometheus
 * itself where the format leaves room: a scrape that parses here parses there.
 */

/** One sample line. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One metric family: its metadata and samples. */
export interface MetricFamily {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  readonly help?: string;
  readonly samples: Sample[];
}

/** A format violation, with the line it is on. */
export class PrometheusFormatError extends Error {}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'] as const;

function parseValue(raw: string, where: string): number {
  if (raw === 'NaN') return NaN;
  if (raw === '+Inf' || raw === 'Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  if (!FLOAT.test(raw)) throw new PrometheusFormatError(`${where}: value ${JSON.stringify(raw)} is not a float`);
  return Number(raw);
}

function parseSampleLine(line: string, where: string): Sample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) throw new PrometheusFormatError(`${where}: no metric name`);
  const name = nameMatch[0];
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    let i = 1;
    for (;;) {
      if (rest[i] === '}') { i++; break; }
      const labelMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(rest.slice(i));
      if (!labelMatch) throw new PrometheusFormatError(`${where}: malformed label name at ${JSON.stringify(rest.slice(i, i + 20))}`);
      const label = labelMatch[0];
      i += label.length;
      if (rest.slice(i, i + 2) !== '="') throw new PrometheusFormatError(`${where}: label ${label} is not followed by ="`);
      i += 2;
      let value = '';
      for (;;) {
        const c = rest[i];
        if (c === undefined) throw new PrometheusFormatError(`${where}: unterminated value of label ${label}`);
        if (c === '"') { i++; break; }
        if (c === '\n') throw new PrometheusFormatError(`${where}: raw newline in label ${label}`);
        if (c === '\\') {
          const next = rest[i + 1];
          if (next === '\\') value += '\\';
          else if (next === '"') value += '"';
          else if (next === 'n') value += '\n';
          else throw new PrometheusFormatError(`${where}: invalid escape \\${next ?? ''} in label ${label}`);
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      if (label in labels) throw new PrometheusFormatError(`${where}: label ${label} given twice`);
      labels[label] = value;
      if (rest[i] === ',') { i++; continue; }
      if (rest[i] === '}') { i++; break; }
      throw new PrometheusFormatError(`${where}: expected , or } after label ${label}`);
    }
    rest = rest.slice(i);
  }
  if (!rest.startsWith(' ')) throw new PrometheusFormatError(`${where}: expected a space before the value`);
  const fields = rest.trim().split(/ +/);
  if (fields.length < 1 || fields.length > 2 || rest.slice(1) !== fields.join(' ')) {
    throw new PrometheusFormatError(`${where}: expected "<value> [timestamp]" after the series, got ${JSON.stringify(rest)}`);
  }
  if (fields.length === 2 && !/^-?\d+$/.test(fields[1])) throw new PrometheusFormatError(`${where}: timestamp ${fields[1]} is not an integer`);
  return { name, labels, value: parseValue(fields[0], where) };
}

function seriesKey(sample: Sample, without: string[] = []): string {
  return JSON.stringify(Object.entries(sample.labels).filter(([k]) => !without.includes(k)).sort());
}

function checkHistogram(family: MetricFamily): void {
  const bySeries = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const sample of family.samples) {
    const key = seriesKey(sample, ['le']);
    const entry = bySeries.get(key) ?? { buckets: [] };
    bySeries.set(key, entry);
    if (sample.name === `${family.name}_bucket`) {
      if (sample.labels.le === undefined) throw new PrometheusFormatError(`histogram ${family.name}: a bucket without le`);
      entry.buckets.push([parseValue(sample.labels.le, `histogram ${family.name} le`), sample.value]);
    } else if (sample.name === `${family.name}_count`) entry.count = sample.value;
    else if (sample.name === `${family.name}_sum`) entry.sum = sample.value;
    else throw new PrometheusFormatError(`histogram ${family.name}: unexpected sample ${sample.name}`);
  }
  for (const [key, entry] of bySeries) {
    const buckets = [...entry.buckets].sort((a, b) => a[0] - b[0]);
    if (buckets.length === 0 || buckets[buckets.length - 1][0] !== Infinity) throw new PrometheusFormatError(`histogram ${family.name}${key}: no le="+Inf" bucket`);
    for (let i = 1; i < buckets.length; i++) {
      if (buckets[i][1] < buckets[i - 1][1]) throw new PrometheusFormatError(`histogram ${family.name}${key}: buckets are not cumulative`);
    }
    if (entry.count === undefined || entry.sum === undefined) throw new PrometheusFormatError(`histogram ${family.name}${key}: _count or _sum missing`);
    if (entry.count !== buckets[buckets.length - 1][1]) throw new PrometheusFormatError(`histogram ${family.name}${key}: _count differs from the +Inf bucket`);
  }
}

/** Parses an exposition; throws {@link PrometheusFormatError} on the first violation. */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new PrometheusFormatError('the exposition does not end with a newline');
  const families = new Map<string, { name: string; type: MetricFamily['type']; help?: string; samples: Sample[]; typed: boolean }>();
  const seen = new Set<string>();
  const closed = new Set<string>();
  let current: string | undefined;
  const enter = (name: string, where: string) => {
    if (current !== name) {
      if (closed.has(name)) throw new PrometheusFormatError(`${where}: family ${name} continues after another family began`);
      if (current !== undefined) closed.add(current);
      current = name;
    }
  };
  const family = (name: string) => {
    let entry = families.get(name);
    if (!entry) {
      entry = { name, type: 'untyped', samples: [], typed: false };
      families.set(name, entry);
    }
    return entry;
  };

  text.split('\n').slice(0, -1).forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!meta) return; // a comment
      const [, keyword, name, rest = ''] = meta;
      if (!METRIC_NAME.test(name)) throw new PrometheusFormatError(`${where}: ${name} is not a valid metric name`);
      enter(name, where);
      const entry = family(name);
      if (keyword === 'HELP') {
        if (entry.help !== undefined) throw new PrometheusFormatError(`${where}: second HELP for ${name}`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new PrometheusFormatError(`${where}: invalid escape in HELP of ${name}`);
        entry.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      } else {
        if (entry.typed) throw new PrometheusFormatError(`${where}: second TYPE for ${name}`);
        if (entry.samples.length > 0) throw new PrometheusFormatError(`${where}: TYPE for ${name} after its samples`);
        if (!(TYPES as readonly string[]).includes(rest.trim())) throw new PrometheusFormatError(`${where}: unknown type ${JSON.stringify(rest)}`);
        entry.type = rest.trim() as MetricFamily['type'];
        entry.typed = true;
      }
      return;
    }
    const sample = parseSampleLine(line, where);
    let owner = sample.name;
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const base = sample.name.slice(0, -suffix.length);
      const candidate = sample.name.endsWith(suffix) ? families.get(base) : undefined;
      if (candidate && (candidate.type === 'histogram' || (candidate.type === 'summary' && suffix !== '_bucket'))) owner = base;
    }
    enter(owner, where);
    const entry = family(owner);
    for (const label of Object.keys(sample.labels)) {
      if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new PrometheusFormatError(`${where}: label name ${label} is reserved`);
    }
    const key = `${sample.name}${seriesKey(sample)}`;
    if (seen.has(key)) throw new PrometheusFormatError(`${where}: series ${key} appears twice`);
    seen.add(key);
    if (entry.type === 'counter' && !(sample.value >= 0)) throw new PrometheusFormatError(`${where}: counter ${owner} is ${sample.value}`);
    if ((entry.type === 'gauge' || entry.type === 'counter') && sample.name !== owner) {
      throw new PrometheusFormatError(`${where}: sample ${sample.name} in ${entry.type} ${owner}`);
    }
    entry.samples.push(sample);
  });

  const result = new Map<string, MetricFamily>();
  for (const entry of families.values()) {
    if (entry.type === 'histogram') checkHistogram(entry);
    result.set(entry.name, { name: entry.name, type: entry.type, help: entry.help, samples: entry.samples });
  }
  return result;
}
