/**
 * A minimal Prometheus registry rendering the text exposition format (version 0.0.4): counters,
 * gauges and histograms with labels. Written here (about 150 lines, strictly tested by
 * test/contract's parser) rather than taken from prom-client because the metric names and label
 * sets are the dashboards' and the HPA adapter's contract; moving to prom-client is open work.
 */

/** Label values of one series. */
export type Labels = Readonly<Record<string, string>>;

/** The `Content-Type` of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function formatLabels(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return '';
  return `{${names.map((name, i) => `${name}="${escapeLabelValue(values[i])}"`).join(',')}}`;
}

abstract class Metric {
  protected readonly series = new Map<string, { values: string[] }>();

  constructor(
    public readonly name: string,
    public readonly help: string,
    public readonly labelNames: readonly string[],
  ) {
    if (!METRIC_NAME.test(name)) throw new Error(`metric name ${JSON.stringify(name)} is not a valid Prometheus name`);
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith('__') || label === 'le') {
        throw new Error(`metric ${name}: label name ${JSON.stringify(label)} is not allowed`);
      }
    }
  }

  protected key(labels: Labels): { key: string; values: string[] } {
    const given = Object.keys(labels);
    if (given.length !== this.labelNames.length || given.some((name) => !this.labelNames.includes(name))) {
      throw new Error(`metric ${this.name}: labels ${JSON.stringify(given)} differ from ${JSON.stringify(this.labelNames)}`);
    }
    const values = this.labelNames.map((name) => labels[name]);
    return { key: JSON.stringify(values), values };
  }

  /** The metric's type line keyword. */
  public abstract readonly type: 'counter' | 'gauge' | 'histogram';

  /** Sample lines, series in a stable order. */
  public abstract samples(): string[];

  protected sortedKeys(): string[] {
    return [...this.series.keys()].sort();
  }
}

/** A monotonically increasing count. Names end in `_total`. */
export class Counter extends Metric {
  public readonly type = 'counter';
  private readonly counts = new Map<string, number>();

  /** Adds `by` (>= 0) to the series of `labels`. */
  public inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name}: cannot add ${by}`);
    const { key, values } = this.key(labels);
    this.series.set(key, { values });
    this.counts.set(key, (this.counts.get(key) ?? 0) + by);
  }

  public samples(): string[] {
    return this.sortedKeys().map((key) => `${this.name}${formatLabels(this.labelNames, this.series.get(key)!.values)} ${formatValue(this.counts.get(key)!)}`);
  }
}

/** A value that goes up and down. */
export class Gauge extends Metric {
  public readonly type = 'gauge';
  private readonly current = new Map<string, number>();

  /** Sets the series of `labels` to `value`. */
  public set(labels: Labels, value: number): void {
    const { key, values } = this.key(labels);
    this.series.set(key, { values });
    this.current.set(key, value);
  }

  public samples(): string[] {
    return this.sortedKeys().map((key) => `${this.name}${formatLabels(this.labelNames, this.series.get(key)!.values)} ${formatValue(this.current.get(key)!)}`);
  }
}

/** Observations counted into cumulative buckets, with their sum and count. */
export class Histogram extends Metric {
  public readonly type = 'histogram';
  private readonly data = new Map<string, { buckets: number[]; sum: number; count: number }>();

  constructor(name: string, help: string, labelNames: readonly string[], public readonly upperBounds: readonly number[]) {
    super(name, help, labelNames);
    for (let i = 1; i < upperBounds.length; i++) {
      if (!(upperBounds[i] > upperBounds[i - 1])) throw new Error(`histogram ${name}: bucket bounds must increase`);
    }
  }

  /** Records one observation in the series of `labels`. */
  public observe(labels: Labels, value: number): void {
    const { key, values } = this.key(labels);
    this.series.set(key, { values });
    let entry = this.data.get(key);
    if (!entry) {
      entry = { buckets: this.upperBounds.map(() => 0), sum: 0, count: 0 };
      this.data.set(key, entry);
    }
    this.upperBounds.forEach((bound, i) => { if (value <= bound) entry!.buckets[i]++; });
    entry.sum += value;
    entry.count++;
  }

  public samples(): string[] {
    const lines: string[] = [];
    const names = [...this.labelNames, 'le'];
    for (const key of this.sortedKeys()) {
      const values = this.series.get(key)!.values;
      const entry = this.data.get(key)!;
      this.upperBounds.forEach((bound, i) => {
        lines.push(`${this.name}_bucket${formatLabels(names, [...values, formatValue(bound)])} ${entry.buckets[i]}`);
      });
      lines.push(`${this.name}_bucket${formatLabels(names, [...values, '+Inf'])} ${entry.count}`);
      lines.push(`${this.name}_sum${formatLabels(this.labelNames, values)} ${formatValue(entry.sum)}`);
      lines.push(`${this.name}_count${formatLabels(this.labelNames, values)} ${entry.count}`);
    }
    return lines;
  }
}

/** The metrics of one process, rendered on `/metrics`. */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();
  private readonly collectors: Array<() => void> = [];

  public counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    if (!name.endsWith('_total')) throw new Error(`counter ${name}: counter names end in _total`);
    return this.register(new Counter(name, help, labelNames));
  }

  public gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.register(new Gauge(name, help, labelNames));
  }

  public histogram(name: string, help: string, labelNames: readonly string[], upperBounds: readonly number[]): Histogram {
    return this.register(new Histogram(name, help, labelNames, upperBounds));
  }

  /** Runs `collect` before every render, for values read at scrape time (memory, uptime). */
  public onCollect(collect: () => void): void {
    this.collectors.push(collect);
  }

  /** The exposition text: every metric with HELP and TYPE, even before its first sample. */
  public render(): string {
    for (const collect of this.collectors) collect();
    const lines: string[] = [];
    for (const metric of [...this.metrics.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      lines.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`, `# TYPE ${metric.name} ${metric.type}`, ...metric.samples());
    }
    return `${lines.join('\n')}\n`;
  }

  private register<T extends Metric>(metric: T): T {
    if (this.metrics.has(metric.name)) throw new Error(`metric ${metric.name} is registered twice`);
    this.metrics.set(metric.name, metric);
    return metric;
  }
}
