/** Milliseconds in each unit a duration is written in, largest first (Prometheus and Go spell them so). */
const UNITS: ReadonlyArray<readonly [string, number]> = [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]];

/**
 * A span of time, held in milliseconds: the one type for every time value of the model (probe
 * periods, grace periods, scrape intervals, alert windows, Sentinel timeouts, backup schedules),
 * rendered in the unit each consumer reads. Not rounded, so validation sees a fraction it must refuse.
 */
export class Duration {
  /** Milliseconds, e.g. `Duration.millis(2000)`. */
  public static millis(milliseconds: number): Duration {
    return new Duration(milliseconds);
  }

  /** Seconds, e.g. `Duration.seconds(30)`. */
  public static seconds(seconds: number): Duration {
    return new Duration(seconds * 1000);
  }

  /** Minutes, e.g. `Duration.minutes(10)`. */
  public static minutes(minutes: number): Duration {
    return new Duration(minutes * 60_000);
  }

  /** Hours, e.g. `Duration.hours(24)`. */
  public static hours(hours: number): Duration {
    return new Duration(hours * 3_600_000);
  }

  private constructor(
    /** The span in milliseconds. */
    public readonly milliseconds: number,
  ) {}

  /** The span in seconds (Kubernetes fields ending in `Seconds`); fractional where it is not whole. */
  public toSeconds(): number {
    return this.milliseconds / 1000;
  }

  /** The span in minutes, for messages. */
  public toMinutes(): number {
    return this.milliseconds / 60_000;
  }

  /** The span in hours, for messages and schedules. */
  public toHours(): number {
    return this.milliseconds / 3_600_000;
  }

  /**
   * The Prometheus (and Go) form in the largest unit that keeps the number whole: `15s`, `10m`,
   * `2h`, `1500ms`. Zero is `0s`.
   */
  public toPrometheus(): string {
    if (this.milliseconds === 0) return '0s';
    const [unit, size] = UNITS.find(([, ms]) => this.milliseconds % ms === 0) ?? UNITS[UNITS.length - 1];
    return `${this.milliseconds / size}${unit}`;
  }

  /** Same as {@link toPrometheus}, for messages and PromQL. */
  public toString(): string {
    return this.toPrometheus();
  }
}

/**
 * Why `duration` cannot fill a Kubernetes field counted in whole seconds (a CronJob's deadlines, a
 * probe budget) with at least `min`, or undefined. Durations hold milliseconds, so a fraction
 * reaches validation, which refuses it with the field and a fix.
 */
export function wholeSecondsProblem(duration: Duration, min: Duration): string | undefined {
  const seconds = duration.toSeconds();
  return Number.isInteger(seconds) && duration.milliseconds >= min.milliseconds
    ? undefined
    : `must be a whole number of seconds, at least ${min}`;
}
