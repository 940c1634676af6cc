import { Cpu, Memory } from '../model/quantities';
import { InstanceShape, NodePoolSpec, NodeReservation } from './environment';

/** The kubelet's default `maxPods`. */
export const DEFAULT_MAX_PODS = 110;

/** The kubelet's default hard eviction threshold for `memory.available`. */
export const KUBELET_EVICTION_THRESHOLD = Memory.mebibytes(100);

/**
 * The reservation the EKS-optimised AMI's bootstrap and Karpenter's AWS provider configure when
 * none is given: kube-reserved CPU of 6% of the first core, 1% of the second, 0.5% of the third
 * and fourth and 0.25% of every further core; kube-reserved memory of 255Mi plus 11Mi per pod the
 * node may run; no system-reserved; eviction at 100Mi of available memory.
 *
 * On a pool that pins cores, pass `wholeCpus`: the static CPU manager needs the reservation as a
 * set of whole CPUs (`reservedSystemCPUs`), which then replaces the formula's CPU.
 */
export function eksReservation(instance: InstanceShape, maxPods: number = DEFAULT_MAX_PODS, wholeCpus?: number): NodeReservation {
  const cores = instance.cpu.millicores / 1000;
  const millis = 60 * Math.min(cores, 1)
    + 10 * Math.min(Math.max(cores - 1, 0), 1)
    + 5 * Math.min(Math.max(cores - 2, 0), 2)
    + 2.5 * Math.max(cores - 4, 0);
  return {
    cpu: wholeCpus !== undefined ? Cpu.cores(wholeCpus) : Cpu.millis(millis),
    memory: Memory.mebibytes(255 + 11 * maxPods),
    evictionThreshold: KUBELET_EVICTION_THRESHOLD,
  };
}

/** What every node of a pool offers pods, as its Node's `status.allocatable` shows it. */
export interface NodeAllocatable {
  readonly cpu: Cpu;
  /** Capacity less the reservation, the eviction threshold and pre-allocated hugepages. */
  readonly memory: Memory;
  readonly hugepages2Mi: Memory;
  readonly gpus: number;
  readonly pods: number;
}

/**
 * Node allocatable of one node of `pool`: what the scheduler fits pods against. The kubelet
 * computes it the same way (capacity − kube-reserved − system-reserved − eviction threshold, and
 * memory also − hugepages); never below zero.
 */
export function nodeAllocatable(pool: NodePoolSpec): NodeAllocatable {
  const { instance, reserved } = pool;
  const hugepages = instance.hugepages2Mi?.mebibytes ?? 0;
  return {
    cpu: Cpu.millis(Math.max(0, instance.cpu.millicores - reserved.cpu.millicores)),
    memory: Memory.mebibytes(Math.max(0, instance.memory.mebibytes - reserved.memory.mebibytes - reserved.evictionThreshold.mebibytes - hugepages)),
    hugepages2Mi: Memory.mebibytes(hugepages),
    gpus: instance.gpus ?? 0,
    pods: pool.maxPods ?? DEFAULT_MAX_PODS,
  };
}
