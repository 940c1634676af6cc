/**
 * Debian's promtool and prometheus (package `prometheus`, 2.42 in bookworm), installed by
 * scripts/install-test-services.sh. The rule files handed to them are the PrometheusRule specs
 * exactly as synthesized.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { onPath } from '../contract/data-stores';
import { K8sObject } from '../support/platform';

const INSTALL_HINT = 'install it with: bash scripts/install-test-services.sh (Debian package `prometheus`)';

/** The path of a Prometheus binary (`promtool`, `prometheus`), or a clear error. */
export function prometheusBinary(name: 'promtool' | 'prometheus'): string {
  const found = onPath(name);
  if (!found) throw new Error(`${name} not found on PATH; ${INSTALL_HINT}`);
  return found;
}

/** The outcome of one promtool run. */
export interface PromtoolResult {
  readonly status: number | null;
  readonly output: string;
}

/** Runs promtool with `args` in `cwd`. */
export function promtool(args: readonly string[], cwd: string): PromtoolResult {
  const result = spawnSync(prometheusBinary('promtool'), args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}` };
}

/** A fresh temporary directory for rule and test files. */
export function scratchDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes a PrometheusRule's spec as a rule file (the operator hands Prometheus exactly this) and returns its path. */
export function writeRuleFile(dir: string, rule: K8sObject): string {
  const file = path.join(dir, `${rule.metadata.name}.rules.yaml`);
  fs.writeFileSync(file, stringify(rule.spec, { lineWidth: 0 }));
  return file;
}
