/**
 * A container's environment variables as planning decides them: plain data, so the plan needs no
 * construct scope and no Kubernetes types, and the constructs render them through cdk8s-plus.
 * Only what the platform uses can be written, so nothing can reach the constructs that they
 * would have to refuse.
 */

/** The pod fields a variable can read (the downward API), by their Kubernetes field paths. */
export type PodField = 'metadata.name' | 'metadata.namespace' | 'status.podIP';

/** A key of a Secret in the pod's namespace: a value the manifests name but never contain. */
export interface SecretKey {
  /** The Secret's name. */
  readonly secret: string;
  /** The key within it. */
  readonly key: string;
}

/** A variable with a value written in the manifest. */
export interface LiteralVariable {
  readonly name: string;
  readonly value: string;
}

/** A variable taken from a key of a Secret. */
export interface SecretVariable {
  readonly name: string;
  readonly secretKey: SecretKey;
}

/** A variable taken from a field of the pod it runs in. */
export interface PodFieldVariable {
  readonly name: string;
  readonly podField: PodField;
}

/** One environment variable of a container: a literal, a Secret's key or a pod field. */
export type EnvironmentVariable = LiteralVariable | SecretVariable | PodFieldVariable;
