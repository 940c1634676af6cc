// ml-training: the image's entry point. Its identity (dependencies) is engine.json, generated
// from the engine catalog; the runtime validates its environment against it.
import { runJob } from '../runtime';
import definition from './engine.json';

runJob(definition, {
  // TRADING LOGIC HOOK (out of scope of this repository): the run itself goes here. It starts once
  // the data stores answer; throwing fails the run and the Job retries. See runtime/hooks.ts.
  run: async ({ logger }) => {
    logger.info('ml-training: no job logic in this repository; the run completes without work');
  },
});
