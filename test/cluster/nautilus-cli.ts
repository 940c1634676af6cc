import { KubeConfig } from '@kubernetes/client-node';
import { CliIo, runCli } from '../../src/deploy/cli';
import { kubeRequest } from './apply';

/** What one run of the deploy tool printed, and its exit code. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the deploy tool in-process against the cluster of `kubeconfigPath` (no terminal, an empty environment). */
export async function runNautilus(kubeconfigPath: string, args: readonly string[], extra: Partial<CliIo> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli([...args, '--kubeconfig', kubeconfigPath], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: {},
    ...extra,
  });
  return { code, stdout, stderr };
}

/** GETs an API path; the body parsed (empty when there is none). */
export async function getJson(kc: KubeConfig, apiPath: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await kubeRequest(kc, apiPath);
  return { status: response.status, body: response.body ? (JSON.parse(response.body) as Record<string, unknown>) : {} };
}
