// frontend: the image's entry point. Its identity (port, probe paths, dependencies) is
// engine.json, generated from the engine catalog; the runtime serves exactly that.
import { runService } from '../runtime';
import definition from './engine.json';

runService(definition, {
  // TRADING LOGIC HOOK (out of scope of this repository): the engine's API goes in `routes`
  // ('POST /orders': handler, ...), and a `warmUp` that readiness waits for. See runtime/hooks.ts.
});
