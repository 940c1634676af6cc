import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
test('loads', () => { const kc = new KubeConfig(); expect(typeof kc.makeApiClient).toBe('function'); expect(CoreV1Api).toBeDefined(); });
