import { dockerfileContextSources } from '../../src/images/image-reference';
import { Stage, execForm, lastOf, parseStages } from './dockerfile';

/** What the catalog says an engine's image must be. */
export interface ImageExpectation {
  readonly engine: string;
  /** The HTTP port of a service engine; undefined for a batch engine. */
  readonly port?: number;
  /** Probe paths a HEALTHCHECK may use. */
  readonly healthPaths: readonly string[];
}

/** One static rule: returns what is wrong, or nothing. */
export interface DockerfileRule {
  readonly name: string;
  check(stages: readonly Stage[], expected: ImageExpectation, text: string): string[];
}

const EXACT_VERSION_TAG = /^v?\d+\.\d+\.\d+([-.+_][A-Za-z0-9._-]+)?$/;

/** The rules every engine Dockerfile is held to, in the order they are reported. */
export const DOCKERFILE_RULES: readonly DockerfileRule[] = [
  {
    name: 'every base image is pinned by exact version or digest',
    check(stages) {
      const stageNames = new Set<string>();
      const problems: string[] = [];
      for (const stage of stages) {
        const base = stage.base;
        if (!stageNames.has(base)) {
          const [reference, digest] = base.split('@');
          const slash = reference.lastIndexOf('/');
          const colon = reference.lastIndexOf(':');
          const tag = colon > slash ? reference.slice(colon + 1) : undefined;
          if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest)) problems.push(`line ${stage.from.line}: ${base}: malformed digest`);
          else if (digest === undefined && (tag === undefined || tag === 'latest' || !EXACT_VERSION_TAG.test(tag))) {
            problems.push(`line ${stage.from.line}: FROM ${base} is not pinned: use an exact version tag (e.g. node:20.20.2-bookworm-slim) or @sha256:<digest>`);
          }
        }
        if (stage.name) stageNames.add(stage.name);
      }
      return problems;
    },
  },
  {
    name: 'the final stage runs as a numeric non-root USER',
    check(stages) {
      const final = stages[stages.length - 1];
      const user = final && lastOf(final, 'USER');
      if (!user) return ['the final stage sets no USER: the image would run as root'];
      const match = /^(\d+)(?::(\d+))?$/.exec(user.args);
      if (!match) return [`line ${user.line}: USER ${user.args} is not numeric uid[:gid] (runAsNonRoot can only verify numeric users)`];
      if (Number(match[1]) === 0 || (match[2] !== undefined && Number(match[2]) === 0)) return [`line ${user.line}: USER ${user.args} is root`];
      return [];
    },
  },
  {
    name: 'EXPOSE equals the catalog port (none for a batch engine)',
    check(stages, expected) {
      const final = stages[stages.length - 1];
      const exposed = (final?.instructions ?? []).filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/))
        .map((p) => p.replace(/\/tcp$/i, ''));
      const want = expected.port === undefined ? [] : [String(expected.port)];
      return JSON.stringify(exposed) === JSON.stringify(want)
        ? []
        : [`EXPOSE ${exposed.join(' ') || '(none)'}, but the catalog says ${want.join(' ') || '(none: a batch engine serves nothing)'}`];
    },
  },
  {
    name: 'HEALTHCHECK is absent or probes the catalog port and a catalog health path',
    check(stages, expected) {
      const problems: string[] = [];
      for (const stage of stages) {
        for (const check of stage.instructions.filter((i) => i.keyword === 'HEALTHCHECK')) {
          if (/^NONE$/i.test(check.args)) continue;
          const okPort = expected.port !== undefined && check.args.includes(`:${expected.port}/`);
          const okPath = expected.healthPaths.some((path) => check.args.includes(`${expected.port}${path}`));
          if (!okPort || !okPath) problems.push(`line ${check.line}: HEALTHCHECK ${check.args} does not probe port ${expected.port ?? '(none)'} on ${expected.healthPaths.join(' or ')}`);
        }
      }
      return problems;
    },
  },
  {
    name: 'COPY/ADD take only runtime/ and the engine\'s own directory from the context',
    check(_stages, expected, text) {
      return dockerfileContextSources(text)
        .map((source) => source.replace(/^\.?\/+/, ''))
        .filter((source) => !['runtime', expected.engine].includes(source.split('/')[0]) || source.includes('..') || /^[a-z]+:\/\//.test(source))
        .map((source) => `copies ${JSON.stringify(source)} from the context: only runtime/ and ${expected.engine}/ may be copied, so that another engine's change never changes this image`);
    },
  },
  {
    name: 'ENTRYPOINT is exec form, so the engine is PID 1 and receives SIGTERM itself',
    check(stages) {
      const final = stages[stages.length - 1];
      const entrypoint = final && lastOf(final, 'ENTRYPOINT');
      const cmd = final && lastOf(final, 'CMD');
      const start = entrypoint ?? cmd;
      if (!start) return ['the final stage has neither ENTRYPOINT nor CMD'];
      if (!execForm(start.args)) return [`line ${start.line}: ${start.keyword} ${start.args} is shell form: /bin/sh would get SIGTERM and not pass it on`];
      return [];
    },
  },
];

/** Every problem of one Dockerfile, prefixed by the rule that found it. */
export function checkDockerfile(text: string, expected: ImageExpectation): string[] {
  const stages = parseStages(text);
  if (stages.length === 0) return ['no FROM'];
  return DOCKERFILE_RULES.flatMap((rule) => rule.check(stages, expected, text).map((p) => `${rule.name}: ${p}`));
}
