import { Cpu, Memory } from '../model/quantities';

/**
 * Components we deploy but do not build, with the image each runs. References are exact versions;
 * append `@sha256:<digest>` (the upstream manifest-list digest, which a mirror keeps) to pin one by
 * digest, as environments with `requireImageDigests` need.
 */

/** NVIDIA's device plugin's name: its DaemonSet, container and namespace are named so. */
export const DEVICE_PLUGIN_NAME = 'nvidia-device-plugin';

/** NVIDIA's device plugin, which advertises `nvidia.com/gpu` on GPU nodes. */
export const DEVICE_PLUGIN_IMAGE = 'nvcr.io/nvidia/k8s-device-plugin:v0.17.0';

/**
 * The device plugin's container budget. It runs on every GPU node, so capacity checks subtract its
 * requests from each of them.
 */
export const DEVICE_PLUGIN_RESOURCES = {
  cpu: Cpu.millis(50),
  memory: Memory.mebibytes(64),
  memoryLimit: Memory.mebibytes(128),
} as const;
