/**
 * ApplySets (KEP-3659): the labels and annotations through which `nautilus deploy` and
 * `kubectl apply --prune --applyset=...` agree on which live objects belong to an environment.
 *
 * @see https://github.com/kubernetes/enhancements/tree/master/keps/sig-cli/3659-kubectl-apply-prune
 */
import { createHash } from 'crypto';
import { V1CustomResourceDefinition } from '@kubernetes/client-node';
import { groupKind, groupOf, KubeObject } from './objects';

/** Label on the parent: the set's id. */
export const APPLYSET_ID_LABEL = 'applyset.kubernetes.io/id';
/** Label on every member: the id of the set it belongs to. */
export const APPLYSET_PART_OF_LABEL = 'applyset.kubernetes.io/part-of';
/** Annotation on the parent: `<tool>/<semver>` of the tool that manages the set. */
export const APPLYSET_TOOLING_ANNOTATION = 'applyset.kubernetes.io/tooling';
/** Annotation on the parent: the group-kinds members may have, e.g. `Deployment.apps,Service`. */
export const APPLYSET_GROUP_KINDS_ANNOTATION = 'applyset.kubernetes.io/contains-group-kinds';
/** Annotation on the parent: namespaces holding members (besides the parent's own; ours has none). */
export const APPLYSET_NAMESPACES_ANNOTATION = 'applyset.kubernetes.io/additional-namespaces';
/** Label on a CRD that allows its custom resources to be ApplySet parents (kubectl checks it). */
export const APPLYSET_PARENT_TYPE_LABEL = 'applyset.kubernetes.io/is-parent-type';

/** Name the tool records in the tooling annotation. */
export const TOOLING_NAME = 'nautilus-k8s';

/** API group and version of the parent kind. */
export const PARENT_API_VERSION = 'nautilus.io/v1alpha1';
/** Kind of the parent. */
export const PARENT_KIND = 'ApplySet';

/**
 * The parent's type. An environment spans several namespaces plus cluster-scoped objects, and
 * kubectl pins a namespaced parent (Secret, ConfigMap) to `--namespace`, refusing objects of any
 * other namespace; a cluster-scoped custom parent is what lets kubectl apply the same set. The CRD
 * only carries the parent's metadata.
 */
export const PARENT_CRD: V1CustomResourceDefinition & KubeObject = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: {
    name: 'applysets.nautilus.io',
    labels: { [APPLYSET_PARENT_TYPE_LABEL]: 'true', 'app.kubernetes.io/managed-by': TOOLING_NAME },
  },
  spec: {
    group: groupOf(PARENT_API_VERSION),
    scope: 'Cluster',
    names: { plural: 'applysets', singular: 'applyset', kind: PARENT_KIND, listKind: `${PARENT_KIND}List` },
    versions: [{
      name: PARENT_API_VERSION.split('/')[1],
      served: true,
      storage: true,
      schema: { openAPIV3Schema: { type: 'object', description: 'Parent of a KEP-3659 ApplySet: only its labels and annotations matter.' } },
    }],
  },
};

/** Names the parent of an environment's set: `ApplySet nautilus-<env>`. */
export function parentName(environment: string): string {
  return `nautilus-${environment}`;
}

/** What kubectl's `--applyset` flag takes to address the set: `applysets.nautilus.io/nautilus-dev`. */
export function kubectlApplySetFlag(environment: string): string {
  return `${PARENT_CRD.metadata.name}/${parentName(environment)}`;
}

/**
 * The set's id: `applyset-<base64url(sha256(<name>.<namespace>.<Kind>.<group>))>-v1`, with an
 * empty namespace for our cluster-scoped parent, exactly as kubectl computes it.
 */
export function applySetId(environment: string): string {
  const unencoded = [parentName(environment), '', PARENT_KIND, groupOf(PARENT_API_VERSION)].join('.');
  return `applyset-${createHash('sha256').update(unencoded).digest('base64url')}-v1`;
}

/** What a parent records about its set. */
export interface ApplySetRecord {
  /** `<tool>/<version>` from the tooling annotation. */
  readonly tooling: string;
  /** Group-kinds members may have, sorted. */
  readonly groupKinds: readonly string[];
  /** Namespaces members may be in, sorted. */
  readonly namespaces: readonly string[];
}

/** The parent object recording `record`, as it is server-side applied. */
export function parentObject(environment: string, record: ApplySetRecord): KubeObject {
  return {
    apiVersion: PARENT_API_VERSION,
    kind: PARENT_KIND,
    metadata: {
      name: parentName(environment),
      labels: { [APPLYSET_ID_LABEL]: applySetId(environment), 'nautilus.io/environment': environment },
      annotations: {
        [APPLYSET_TOOLING_ANNOTATION]: record.tooling,
        [APPLYSET_GROUP_KINDS_ANNOTATION]: [...record.groupKinds].sort().join(','),
        [APPLYSET_NAMESPACES_ANNOTATION]: [...record.namespaces].sort().join(','),
      },
    },
  };
}

/** Reads what a live parent records; `undefined` when it is not a parent of this set. */
export function readParent(parent: KubeObject | undefined): ApplySetRecord | undefined {
  const annotations = parent?.metadata.annotations;
  if (!parent || !annotations) return undefined;
  const list = (value: string | undefined) => (value ? value.split(',').filter((item) => item !== '').sort() : []);
  return {
    tooling: annotations[APPLYSET_TOOLING_ANNOTATION] ?? '',
    groupKinds: list(annotations[APPLYSET_GROUP_KINDS_ANNOTATION]),
    namespaces: list(annotations[APPLYSET_NAMESPACES_ANNOTATION]),
  };
}

/** The tool name of a tooling annotation: `nautilus-k8s` for `nautilus-k8s/0.1.0` (as kubectl splits it). */
export function toolingName(tooling: string): string {
  const parts = tooling.split('/');
  return parts.length >= 2 ? parts.slice(0, -1).join('/') : tooling;
}

/** The set's record for these members (group-kinds and namespaces they use). */
export function recordFor(tooling: string, members: readonly KubeObject[]): ApplySetRecord {
  return {
    tooling,
    groupKinds: [...new Set(members.map(groupKind))].sort(),
    namespaces: [...new Set(members.map((member) => member.metadata.namespace).filter((ns): ns is string => !!ns))].sort(),
  };
}

/** The union of two records: what the parent covers while an apply is under way. */
export function unionRecord(a: ApplySetRecord, b: ApplySetRecord | undefined): ApplySetRecord {
  if (!b) return a;
  return {
    tooling: a.tooling,
    groupKinds: [...new Set([...a.groupKinds, ...b.groupKinds])].sort(),
    namespaces: [...new Set([...a.namespaces, ...b.namespaces])].sort(),
  };
}

/** A copy of `object` labelled as a member of the environment's set. */
export function asMember(object: KubeObject, environment: string): KubeObject {
  return {
    ...object,
    metadata: { ...object.metadata, labels: { ...object.metadata.labels, [APPLYSET_PART_OF_LABEL]: applySetId(environment) } },
  };
}
