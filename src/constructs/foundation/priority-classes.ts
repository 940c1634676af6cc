import { Construct } from 'constructs';
import { KubePriorityClass } from '../../../imports/k8s';
import { DATA_STORE_TITLES } from '../../catalog/engine-spec';
import { Tier } from '../../catalog/tier';
import { DATA_PRIORITY_CLASS } from '../stateful-store';

/** Properties of {@link PriorityClasses}. */
export interface PriorityClassesProps {
  /**
   * The tiers, each with its PriorityClass.
   * @default Tier.all()
   */
  readonly tiers?: readonly Tier[];
}

/** A PriorityClass per tier, and the data stores' above them all. */
export class PriorityClasses extends Construct {
  constructor(scope: Construct, id: string, props: PriorityClassesProps = {}) {
    super(scope, id);
    for (const tier of props.tiers ?? Tier.all()) {
      new KubePriorityClass(this, `Priority-${tier.name}`, {
        metadata: { name: tier.priorityClassName },
        value: tier.priorityValue,
        // globalDefault is left out, not `false`: the server drops a false default, so stating it
        // would make every apply patch it back.
        preemptionPolicy: 'PreemptLowerPriority',
        description: `Nautilus ${tier.name} tier`,
      });
    }
    new KubePriorityClass(this, 'Priority-data', {
      metadata: { name: DATA_PRIORITY_CLASS },
      // Above every engine tier: every engine needs the stores, so no engine may preempt them.
      value: Tier.ULTRA_LOW_LATENCY.priorityValue + 100_000,
      preemptionPolicy: 'PreemptLowerPriority',
      // Every kind of store the catalog has, named as prose names them.
      description: `Nautilus data stores (${Object.values(DATA_STORE_TITLES).join(', ')})`,
    });
  }
}
