/**
 * One version of an engine as a release test runs it: the engine's own runtime (src/engines/runtime)
 * with its engine.json, answering `GET /quotes` for the load the test sends. A version the test
 * calls bad answers a share of them with the runtime's 500 (its handler throws), as a broken build
 * would: what the release analysis must catch.
 *
 *   RELEASE_ENGINE=<engine> RELEASE_PORT=<port> RELEASE_FAILURE_RATIO=<0..1> node <bundle of this file>
 *
 * Every other variable (NAUTILUS_*) is the pod template's, as the kubelet would give it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { runService } from '../../../src/engines/runtime';

const engine = process.env.RELEASE_ENGINE ?? '';
const port = Number(process.env.RELEASE_PORT);
const failureRatio = Number(process.env.RELEASE_FAILURE_RATIO ?? '0');
const definitionFile = path.join(process.env.RELEASE_ENGINES_DIR ?? '', engine, 'engine.json');
const definition = JSON.parse(fs.readFileSync(definitionFile, 'utf8')) as Record<string, unknown>;

let answered = 0;
runService({ ...definition, port }, {
  routes: {
    'GET /quotes': (_request, response) => {
      answered++;
      // Deterministic: every n-th request fails, so a window's ratio is the version's own.
      if (failureRatio > 0 && answered % Math.round(1 / failureRatio) === 0) throw new Error('this version is broken');
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end('{"quotes":[]}');
    },
  },
});
