import { Duration, wholeSecondsProblem } from '../../src/model/duration';

describe('Duration', () => {
  test('each factory holds the span in milliseconds', () => {
    expect([Duration.millis(1500), Duration.seconds(30), Duration.minutes(10), Duration.hours(24)].map((d) => d.milliseconds))
      .toEqual([1500, 30_000, 600_000, 86_400_000]);
  });

  test('reads back in seconds, minutes and hours, fractions kept', () => {
    expect(Duration.minutes(2).toSeconds()).toBe(120);
    expect(Duration.millis(1500).toSeconds()).toBe(1.5);
    expect(Duration.seconds(90).toMinutes()).toBe(1.5);
    expect(Duration.minutes(90).toHours()).toBe(1.5);
  });

  test('renders in the largest unit that keeps the number whole, as Prometheus reads it', () => {
    expect([Duration.seconds(15), Duration.minutes(10), Duration.seconds(120), Duration.hours(2), Duration.minutes(90), Duration.millis(1500), Duration.seconds(0)]
      .map((d) => d.toPrometheus())).toEqual(['15s', '10m', '2m', '2h', '90m', '1500ms', '0s']);
    expect(`${Duration.minutes(10)}`).toBe('10m');
  });

  test('whole seconds of at least a minimum, for the Kubernetes fields counted in seconds', () => {
    expect(wholeSecondsProblem(Duration.minutes(30), Duration.seconds(10))).toBeUndefined();
    expect(wholeSecondsProblem(Duration.seconds(10), Duration.seconds(10))).toBeUndefined();
    expect(wholeSecondsProblem(Duration.millis(1500), Duration.seconds(1))).toBe('must be a whole number of seconds, at least 1s');
    expect(wholeSecondsProblem(Duration.seconds(5), Duration.seconds(10))).toBe('must be a whole number of seconds, at least 10s');
    expect(wholeSecondsProblem(Duration.seconds(0), Duration.seconds(1))).toMatch(/at least 1s/);
  });

  test('a fraction of a millisecond is kept for validation to refuse', () => {
    expect(Duration.millis(1500.5).milliseconds).toBe(1500.5);
  });
});
