import { MetricsRegistry } from '../../src/engines/runtime/metrics';
import { PrometheusFormatError, parsePrometheusText } from './prometheus-text';

describe('the strict Prometheus text parser', () => {
  test('reads what the engine runtime renders, escapes and histograms included', () => {
    const registry = new MetricsRegistry();
    registry.counter('requests_total', 'Requests\nby path \\ status.', ['path']).inc({ path: '/a"b\\c\nd' }, 2);
    registry.histogram('latency_seconds', 'Latency.', ['path'], [0.1, 1]).observe({ path: '/x' }, 0.5);
    registry.gauge('up', 'Up.').set({}, 1);
    const families = parsePrometheusText(registry.render());
    expect(families.get('requests_total')).toEqual({
      name: 'requests_total', type: 'counter', help: 'Requests\nby path \\ status.',
      samples: [{ name: 'requests_total', labels: { path: '/a"b\\c\nd' }, value: 2 }],
    });
    expect(families.get('latency_seconds')?.samples.map((s) => [s.name, s.labels.le, s.value])).toEqual([
      ['latency_seconds_bucket', '0.1', 0], ['latency_seconds_bucket', '1', 1], ['latency_seconds_bucket', '+Inf', 1],
      ['latency_seconds_sum', undefined, 0.5], ['latency_seconds_count', undefined, 1],
    ]);
    expect(families.get('up')?.samples[0].value).toBe(1);
  });

  const invalid: ReadonlyArray<readonly [string, string, RegExp]> = [
    ['no trailing newline', 'up 1', /newline/],
    ['a value that is no float', 'up one\n', /not a float/],
    ['an unterminated label value', 'up{a="b} 1\n', /unterminated|expected/],
    ['an invalid escape', 'up{a="\\t"} 1\n', /invalid escape/],
    ['a duplicate series', 'up{a="1"} 1\nup{a="1"} 2\n', /twice/],
    ['a duplicate label', 'up{a="1",a="2"} 1\n', /twice/],
    ['TYPE after samples', 'up 1\n# TYPE up gauge\n', /after its samples/],
    ['an unknown type', '# TYPE up meter\n', /unknown type/],
    ['a family split in two', 'a 1\nb 1\na{x="1"} 2\n', /continues after/],
    ['a negative counter', '# TYPE c_total counter\nc_total -1\n', /counter c_total is -1/],
    ['a histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /\+Inf/],
    ['a non-cumulative histogram', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', /cumulative/],
    ['a histogram count that differs from +Inf', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n', /_count differs/],
    ['garbage after the value', 'up 1 2 3\n', /expected/],
  ];
  test.each(invalid)('rejects %s', (_what, text, message) => {
    expect(() => parsePrometheusText(text)).toThrow(PrometheusFormatError);
    expect(() => parsePrometheusText(text)).toThrow(message);
  });
});
