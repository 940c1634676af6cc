import {
  Port, cidr, cidrProblem, count, cron, cronScheduleProblem, imageRegistry, imageRegistryProblem, imageVersion, labelValueProblem,
  mirroredImage, pinnedImageProblem, port, portProblem,
} from '../../src/model/domains';

describe('value domains mirror what the API server accepts', () => {
  test.each(['30 22 * * 1-5', '*/15 * * * *', '0 0 1 JAN,JUL *', '5 4 * * sun', '0-30/10 8-17 ? * MON-FRI', '@daily', '@every 1h'])(
    'cron %p is accepted', (schedule) => expect(cronScheduleProblem(schedule)).toBeUndefined());

  test.each([
    ['30 22 * *', /has 4 fields/],
    ['0 30 22 * * 1-5', /has 6 fields/],
    ['61 * * * *', /minute field "61": values must be from 0 to 59/],
    ['0 24 * * *', /hour field/],
    ['0 0 0 * *', /day of month field/],
    ['0 0 * 13 *', /month field/],
    ['0 0 * * 7', /day of week field "7"/],
    ['0 0 * * 5-1', /from low to high/],
    ['*/0 * * * *', /a step is/],
    ['TZ=UTC 0 0 * * *', /spec\.timeZone/],
    ['@fortnightly', /unknown descriptor/],
  ])('cron %p is rejected', (schedule, message) => expect(cronScheduleProblem(schedule)).toMatch(message));

  test('CIDR blocks', () => {
    expect(cidrProblem('10.30.0.0/16')).toBeUndefined();
    expect(cidrProblem('fd00::/64')).toBeUndefined();
    expect(cidrProblem('10.30.0.0')).toMatch(/not a CIDR/);
    expect(cidrProblem('10.30.0.300/16')).toMatch(/not a CIDR/);
    expect(cidrProblem('10.30.0.0/33')).toMatch(/at most 32/);
  });

  test('registries', () => {
    expect(imageRegistryProblem('registry.prod.nautilus.internal/nautilus')).toBeUndefined();
    expect(imageRegistryProblem('localhost:5000/nautilus')).toBeUndefined();
    expect(imageRegistryProblem('')).toMatch(/empty/);
    expect(imageRegistryProblem('registry.example/nautilus/')).toMatch(/ends with "\/"/);
    expect(imageRegistryProblem('Registry.example/nautilus')).toMatch(/upper-case/);
    expect(imageRegistryProblem('https://registry.example/nautilus')).toMatch(/scheme/);
    expect(imageRegistryProblem('registry.example/nau tilus')).toMatch(/path component/);
  });

  test('label values and the version label of an image pinned by digest', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(imageVersion(`redis:7.4.1-alpine@${digest}`)).toBe('7.4.1-alpine');
    expect(imageVersion('registry:5000/timescale/timescaledb:2.17.2-pg16')).toBe('2.17.2-pg16');
    expect(imageVersion(`redis@${digest}`)).toBeUndefined();
    expect(labelValueProblem('7.4.1-alpine')).toBeUndefined();
    // The digest's hex alone is one character too long: why the label takes the tag.
    expect(labelValueProblem(digest.slice(7))).toMatch(/64 characters/);
    expect(labelValueProblem(`x${'a'.repeat(63)}`)).toMatch(/64 characters/);
    expect(labelValueProblem('NVIDIA GH200')).toMatch(/letters, digits/);
  });

  test('pinned images and ports', () => {
    expect(pinnedImageProblem('redis:7.4.1-alpine')).toBeUndefined();
    expect(pinnedImageProblem(`mirror.example:5000/library/redis:7.4.1-alpine@sha256:${'b'.repeat(64)}`)).toBeUndefined();
    expect(pinnedImageProblem('redis')).toMatch(/neither tag nor digest/);
    expect(pinnedImageProblem('redis:latest')).toMatch(/latest/);
    expect(pinnedImageProblem('redis:7@sha256:abc')).toMatch(/64 hex/);
    expect(portProblem(8200)).toBeUndefined();
    for (const bad of [0, -1, 1.5, 65536]) expect(portProblem(bad)).toMatch(/1 to 65535/);
  });
});

describe('branded constructors refuse literal mistakes at compile time (checked by tsc --noEmit)', () => {
  test('well-formed literals compile and keep their value', () => {
    expect([port(8200), count(0)]).toEqual([8200, 0]);
    expect([cron('30 22 * * 1-5'), cron('@daily'), cidr('10.30.0.0/16'), imageRegistry('registry.example/nautilus')])
      .toEqual(['30 22 * * 1-5', '@daily', '10.30.0.0/16', 'registry.example/nautilus']);
  });

  test('mistakes do not compile', () => {
    // Each line below is a type error; tsc fails on an unused @ts-expect-error, so if one of them
    // compiled, `npm test` would fail. At run time the constructors return the value unchanged.
    const refused = [
      // @ts-expect-error a fractional port
      port(80.5),
      // @ts-expect-error a negative port
      port(-1),
      // @ts-expect-error port 0
      port(0),
      // @ts-expect-error a fractional count
      count(0.5),
      // @ts-expect-error four cron fields
      cron('30 22 * *'),
      // @ts-expect-error six cron fields
      cron('0 30 22 * * 1-5'),
      // @ts-expect-error an address without prefix
      cidr('10.30.0.0'),
      // @ts-expect-error a trailing slash
      imageRegistry('registry.example/nautilus/'),
      // @ts-expect-error upper case
      imageRegistry('Registry.example/nautilus'),
      // @ts-expect-error empty
      imageRegistry(''),
      // @ts-expect-error a bare number where a Port is expected
      ((p: Port) => p)(8200),
    ];
    expect(refused).toHaveLength(11);
  });
});

describe('third-party images through a mirror', () => {
  const mirror = imageRegistry('registry.example/mirror');
  test.each([
    ['redis:7.4.1-alpine', 'registry.example/mirror/docker.io/library/redis:7.4.1-alpine'],
    ['timescale/timescaledb:2.17.2-pg16', 'registry.example/mirror/docker.io/timescale/timescaledb:2.17.2-pg16'],
    ['nvcr.io/nvidia/k8s-device-plugin:v0.17.0', 'registry.example/mirror/nvcr.io/nvidia/k8s-device-plugin:v0.17.0'],
    [`redis:7.4.1-alpine@sha256:${'c'.repeat(64)}`, `registry.example/mirror/docker.io/library/redis:7.4.1-alpine@sha256:${'c'.repeat(64)}`],
  ])('%s', (image, expected) => {
    expect(mirroredImage(image, mirror)).toBe(expected);
    expect(mirroredImage(image, undefined)).toBe(image);
    expect(pinnedImageProblem(mirroredImage(image, mirror))).toBeUndefined();
  });
});
