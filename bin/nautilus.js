#!/usr/bin/env node
// `nautilus <command> <env>`: runs src/deploy/cli.ts through tsx, like `npm run synth` runs
// main.ts (no type checking at start; `npx tsc --noEmit` and the tests do that).
require('tsx/cjs');
const { runCli, processIo } = require('../src/deploy/cli.ts');

runCli(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code;
});
