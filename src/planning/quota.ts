import { Cpu, Memory } from '../model/quantities';
import { DataStorePlan, EnginePlan } from './plan';

/**
 * A namespace's ResourceQuota, sized from the plans: every pod at its autoscaling maximum plus one
 * rolling-update surge pod (the largest), so the quota stops a runaway, never a planned scale-out.
 */
export interface NamespaceQuotaPlan {
  readonly namespace: string;
  /** CPU requested by every pod, and one surge pod. */
  readonly cpu: Cpu;
  /** Memory requested by every pod, and one surge pod. */
  readonly memory: Memory;
  /** Pods, each workload with one surge pod. */
  readonly pods: number;
  /** 2Mi hugepages requested; absent where no pod asks for any. */
  readonly hugepages?: Memory;
  /** GPUs requested; absent where no pod asks for any. */
  readonly gpus?: number;
  /** Volume storage claimed by the store members (no surge: a StatefulSet replaces in place); absent without volumes. */
  readonly storage?: Memory;
  /** PersistentVolumeClaims, one per store member; absent without volumes. */
  readonly persistentVolumeClaims?: number;
}

/** The quota of `namespace` for the workloads planned in it; undefined where none runs there. */
export function planNamespaceQuota(namespace: string, engines: readonly EnginePlan[], stores: readonly DataStorePlan[]): NamespaceQuotaPlan | undefined {
  const sized = [
    ...engines.filter((p) => p.namespace === namespace).map((p) => ({
      count: p.autoscaling?.maxReplicas ?? p.replicas, cpu: p.cpuRequest.millicores, memory: p.memoryRequest.mebibytes,
      hugepages: p.hugepages2Mi?.mebibytes ?? 0, gpus: p.gpus, storage: 0,
    })),
    ...stores.filter((p) => p.namespace === namespace).map((p) => ({
      count: p.replicas, cpu: p.podRequests.cpu.millicores, memory: p.podRequests.memory.mebibytes,
      hugepages: 0, gpus: 0, storage: p.storage.mebibytes,
    })),
  ];
  if (sized.length === 0) return undefined;
  type Sized = (typeof sized)[number];
  const sum = (f: (s: Sized) => number) => sized.reduce((t, s) => t + s.count * f(s), 0);
  const withSurge = (f: (s: Sized) => number) => sum(f) + Math.max(...sized.map(f));
  const hugepages = withSurge((s) => s.hugepages);
  const gpus = withSurge((s) => s.gpus);
  const storage = sum((s) => s.storage);
  return {
    namespace,
    cpu: Cpu.millis(withSurge((s) => s.cpu)),
    memory: Memory.mebibytes(withSurge((s) => s.memory)),
    pods: sized.reduce((t, s) => t + s.count + 1, 0),
    hugepages: hugepages > 0 ? Memory.mebibytes(hugepages) : undefined,
    gpus: gpus > 0 ? gpus : undefined,
    storage: storage > 0 ? Memory.mebibytes(storage) : undefined,
    persistentVolumeClaims: storage > 0 ? sized.filter((s) => s.storage > 0).reduce((t, s) => t + s.count, 0) : undefined,
  };
}
