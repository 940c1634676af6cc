import * as cdk8s from 'cdk8s';
import { Duration } from '../model/duration';

/** A model duration as cdk8s-plus takes it: whole seconds, the unit of the Kubernetes fields it fills. */
export function plusDuration(duration: Duration): cdk8s.Duration {
  return cdk8s.Duration.seconds(duration.toSeconds());
}
