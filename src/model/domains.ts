/**
 * The value domains of the catalog and the environments: branded types with smart constructors,
 * and the checks that mirror what the Kubernetes API server accepts for each field we emit.
 *
 * A branded value can only come from its constructor, so a bare `8200` or `'10.0.0.0/16'` where a
 * `Port` or `Cidr` is expected does not compile. For literal arguments the constructors also check
 * the shape at compile time (a fractional port, a four-field cron schedule, a registry with a
 * trailing slash are type errors whose message says what is expected). What TypeScript cannot say
 * (65536 as a port, 99 as an hour) the validation rules say with the same checks as below, so
 * constructors never throw: every problem is reported at once, by synthesis.
 */
import { isIP } from 'net';

declare const brand: unique symbol;

/** `T` narrowed to values produced by the `B` constructor. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A TCP port (1–65535). */
export type Port = Brand<number, 'Port'>;
/** A whole number of things (GPUs, retries): 0 or more, no fraction. */
export type Count = Brand<number, 'Count'>;
/** A five-field cron schedule (minute hour day-of-month month day-of-week), as CronJobs take it. */
export type CronSchedule = Brand<string, 'CronSchedule'>;
/** An IPv4 or IPv6 CIDR block, e.g. `10.30.0.0/16`. */
export type Cidr = Brand<string, 'Cidr'>;
/** A registry host with an optional path prefix, e.g. `registry.example/nautilus`: no scheme, no trailing slash. */
export type ImageRegistry = Brand<string, 'ImageRegistry'>;

// --- compile-time checks of literal arguments (a non-literal argument passes and is validated) ---

type IsWide<T, Wide> = Wide extends T ? true : false;

/** A literal number written without sign, fraction or exponent. */
type WholeLiteral<N extends number, Message extends string> = IsWide<N, number> extends true
  ? N
  : `${N}` extends `-${string}` | `${string}.${string}` | `${string}e${string}` ? Message : N;

type PositiveLiteral<N extends number, Message extends string> = `${N}` extends '0' ? Message : WholeLiteral<N, Message>;

type SpaceFields<S extends string, Acc extends string[] = []> = S extends `${infer Head} ${infer Tail}`
  ? SpaceFields<Tail, [...Acc, Head]>
  : [...Acc, S];

type CronLiteral<S extends string> = IsWide<S, string> extends true
  ? S
  : S extends `@${string}`
    ? S
    : SpaceFields<S>['length'] extends 5 ? S : 'a cron schedule has five space-separated fields: minute hour day-of-month month day-of-week';

type CidrLiteral<S extends string> = IsWide<S, string> extends true
  ? S
  : S extends `${string}/${number}` ? S : 'a CIDR is an address and a prefix length, e.g. "10.30.0.0/16"';

type RegistryLiteral<S extends string> = IsWide<S, string> extends true
  ? S
  : S extends '' | `${string}/` | `${string}://${string}`
    ? 'an image registry is a host and optional path without scheme or trailing slash, e.g. "registry.example/nautilus"'
    : S extends Lowercase<S> ? S : 'an image registry is lower case';

/** A TCP port; a literal must be a positive whole number. */
export function port<N extends number>(value: PositiveLiteral<N, 'a port is a whole number from 1 to 65535'>): Port {
  return value as unknown as Port;
}

/** A count; a literal must be a non-negative whole number. */
export function count<N extends number>(value: WholeLiteral<N, 'a count is a whole number, 0 or more'>): Count {
  return value as unknown as Count;
}

/** A cron schedule; a literal must have five fields (or be a descriptor such as `@daily`). */
export function cron<S extends string>(value: CronLiteral<S>): CronSchedule {
  return value as unknown as CronSchedule;
}

/** A CIDR block; a literal must look like `address/prefix`. */
export function cidr<S extends string>(value: CidrLiteral<S>): Cidr {
  return value as unknown as Cidr;
}

/** An image registry; a literal must be non-empty, lower case, without scheme or trailing slash. */
export function imageRegistry<S extends string>(value: RegistryLiteral<S>): ImageRegistry {
  return value as unknown as ImageRegistry;
}

// --- the checks validation runs (each returns why a value is invalid, or undefined) ---

/** Why `value` is not a TCP port, or undefined. */
export function portProblem(value: number): string | undefined {
  return Number.isInteger(value) && value >= 1 && value <= 65535 ? undefined : 'a TCP port must be a whole number from 1 to 65535';
}

/** Why `value` is not a whole number of at least `min`, or undefined. */
export function wholeNumberProblem(value: number, min: number): string | undefined {
  return Number.isInteger(value) && value >= min ? undefined : `must be a whole number of at least ${min}`;
}

const CRON_FIELDS: ReadonlyArray<{ readonly name: string; readonly min: number; readonly max: number; readonly names?: readonly string[] }> = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { name: 'day of week', min: 0, max: 6, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

const CRON_DESCRIPTORS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/**
 * Why `schedule` is not a schedule the API server accepts, or undefined. Mirrors the parser the
 * CronJob controller uses (robfig/cron v3's standard parser: five fields of `*`, `?`, values,
 * ranges, lists and `/step`, month and weekday names, `@daily`-style descriptors) and the API
 * server's refusal of `TZ=` inside the schedule. Written here because no npm cron package accepts
 * exactly that grammar (they take seconds fields, `L`, `W`, `#`).
 */
export function cronScheduleProblem(schedule: string): string | undefined {
  const trimmed = schedule.trim();
  if (/^(CRON_)?TZ=/.test(trimmed)) return 'a time zone inside the schedule is rejected; CronJobs take it in spec.timeZone';
  if (trimmed.startsWith('@')) {
    return CRON_DESCRIPTORS.has(trimmed) || /^@every \S+$/.test(trimmed) ? undefined : `unknown descriptor ${trimmed}`;
  }
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5) return `has ${fields.length} field${fields.length === 1 ? '' : 's'}; a cron schedule has five: minute hour day-of-month month day-of-week`;
  for (const [index, field] of fields.entries()) {
    const spec = CRON_FIELDS[index];
    const value = (text: string): number | undefined => {
      const named = spec.names?.indexOf(text.toUpperCase()) ?? -1;
      if (named >= 0) return named + spec.min;
      return /^\d+$/.test(text) ? Number(text) : undefined;
    };
    for (const part of field.split(',')) {
      const [range, step, extra] = part.split('/');
      if (extra !== undefined || (step !== undefined && !/^[1-9]\d*$/.test(step))) return `${spec.name} field "${field}": a step is "/" and a positive number`;
      if (range === '*' || range === '?') continue;
      const bounds = range.split('-');
      if (bounds.length > 2) return `${spec.name} field "${field}": a range is "low-high"`;
      const numbers = bounds.map(value);
      if (numbers.some((n) => n === undefined || n < spec.min || n > spec.max)) {
        return `${spec.name} field "${field}": values must be from ${spec.min} to ${spec.max}${spec.names ? ` (or ${spec.names[0]}–${spec.names[spec.names.length - 1]})` : ''}`;
      }
      if (numbers.length === 2 && numbers[0]! > numbers[1]!) return `${spec.name} field "${field}": a range must go from low to high`;
    }
  }
  return undefined;
}

/** Why `value` is not a CIDR block (as NetworkPolicy `ipBlock.cidr` takes it), or undefined. */
export function cidrProblem(value: string): string | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(value);
  const family = match ? isIP(match[1]) : 0;
  if (!match || family === 0) return 'not a CIDR block: an IP address, "/" and a prefix length, e.g. 10.30.0.0/16';
  const max = family === 4 ? 32 : 128;
  return Number(match[2]) <= max ? undefined : `the prefix length must be at most ${max} for an IPv${family} address`;
}

// The grammar of distribution/reference (what container runtimes parse): lower-case path
// components separated by "/", the first optionally a host[:port].
const REGISTRY_HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** Why `value` is not a registry and path prefix images can be pulled from, or undefined. */
export function imageRegistryProblem(value: string): string | undefined {
  if (value === '') return 'is empty';
  if (/^[a-z]+:\/\//i.test(value)) return 'has a scheme; image references have none';
  if (value.endsWith('/')) return 'ends with "/"; the engine name is appended after one';
  if (value !== value.toLowerCase()) return 'has upper-case letters; image references are lower case';
  const [host, ...path] = value.split('/');
  if (!REGISTRY_HOST.test(host)) return `"${host}" is not a registry host[:port]`;
  const bad = path.find((c) => !PATH_COMPONENT.test(c));
  return bad === undefined ? undefined : `path component "${bad}" must be lower-case letters and digits separated by ".", "_", "__" or "-"`;
}

/** The longest label value Kubernetes accepts. */
export const LABEL_VALUE_MAX_LENGTH = 63;

/** Why `value` is not a valid label value, or undefined. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > LABEL_VALUE_MAX_LENGTH) return `is ${value.length} characters long; a label value has at most ${LABEL_VALUE_MAX_LENGTH}`;
  if (value !== '' && !/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(value)) {
    return 'a label value is letters, digits, "-", "_" and ".", starting and ending with a letter or digit';
  }
  return undefined;
}

/** The longest DNS subdomain (names of StorageClasses, PriorityClasses and most objects). */
export const DNS_SUBDOMAIN_MAX_LENGTH = 253;

/** Why `value` is not an RFC 1123 DNS subdomain, or undefined. */
export function dnsSubdomainProblem(value: string): string | undefined {
  if (value === '') return 'is empty';
  if (value.length > DNS_SUBDOMAIN_MAX_LENGTH) return `is ${value.length} characters long, more than ${DNS_SUBDOMAIN_MAX_LENGTH}`;
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(value)
    ? undefined
    : 'must be lower-case letters, digits, "-" and ".", starting and ending with a letter or digit';
}

/**
 * The version an image reference names, for the `app.kubernetes.io/version` label: its tag, with
 * any `@sha256:` digest left out (a digest is 71 characters, longer than a label value may be).
 * Undefined when the reference has no tag.
 */
export function imageVersion(image: string): string | undefined {
  const withoutDigest = image.split('@')[0];
  const lastPart = withoutDigest.split('/').pop() ?? '';
  const colon = lastPart.lastIndexOf(':');
  return colon >= 0 ? lastPart.slice(colon + 1) : undefined;
}

/** Why `image` is not an image reference pinned to a version (a tag or a digest), or undefined. */
export function pinnedImageProblem(image: string): string | undefined {
  const [name, digest] = image.split('@');
  if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest)) return 'the digest must be sha256: and 64 hex digits';
  const path = name.split('/');
  const last = path[path.length - 1];
  const tag = last.includes(':') ? last.slice(last.indexOf(':') + 1) : undefined;
  if (tag === undefined && digest === undefined) return 'has neither tag nor digest, so it pulls whatever "latest" is';
  if (tag === 'latest') return '"latest" is not a version';
  if (tag !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) return `tag "${tag}" is not a valid tag`;
  const repository = [...path.slice(0, -1), last.split(':')[0]];
  const first = repository.length > 1 && /[.:]|^localhost$/.test(repository[0]) ? 1 : 0;
  const bad = repository.slice(first).find((c) => !PATH_COMPONENT.test(c));
  return bad === undefined ? undefined : `repository component "${bad}" must be lower case`;
}

/**
 * `image` as pulled through a registry mirror that keeps upstream paths under the upstream host:
 * `redis:7.4.1-alpine` through `registry.example/mirror` is
 * `registry.example/mirror/docker.io/library/redis:7.4.1-alpine` (Docker Hub's implicit host and
 * `library/` made explicit). Tag and digest are kept; without a mirror the image is unchanged.
 */
export function mirroredImage(image: string, mirror: ImageRegistry | undefined): string {
  if (!mirror) return image;
  const [name, digest] = image.split('@');
  const parts = name.split('/');
  const hasHost = parts.length > 1 && /[.:]|^localhost$/.test(parts[0]);
  const host = hasHost ? parts[0] : 'docker.io';
  const path = hasHost ? parts.slice(1) : parts.length === 1 ? ['library', ...parts] : parts;
  return `${mirror}/${host}/${path.join('/')}${digest ? `@${digest}` : ''}`;
}

/** Whether `image` is pinned by digest (`...@sha256:<64 hex>`). */
export function hasDigest(image: string): boolean {
  return /@sha256:[0-9a-f]{64}$/.test(image);
}
