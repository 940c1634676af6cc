// Preloaded into `cdk8s import` by scripts/regenerate-imports.sh.
//
// `cdk8s import k8s@X` downloads the Kubernetes schema from the internet, which our build machines
// cannot reach. The same definitions ship inside the k8s.io/kubernetes Go module
// (api/openapi-spec/swagger.json), which the Go module proxy serves. This preload answers the
// CLI's schema download from that local file and refuses every other download, so the import is
// the CLI's own code generation, only fed offline.
'use strict';
const fs = require('fs');
const path = require('path');

const swaggerPath = process.env.NAUTILUS_K8S_SWAGGER;
if (!swaggerPath) {
  throw new Error('offline-schema.js: NAUTILUS_K8S_SWAGGER must name the swagger.json to import from');
}
const util = require(path.join(process.cwd(), 'node_modules/cdk8s-cli/lib/util'));
util.download = async (url) => {
  if (!/\/kubernetes-schemas\/v[0-9.]+\/_definitions\.json$/.test(url)) {
    throw new Error(`offline-schema.js: refusing to download ${url}: imports are generated offline`);
  }
  const { definitions } = JSON.parse(fs.readFileSync(swaggerPath, 'utf8'));
  // swagger.json spells these as formatted strings; the published cdk8s schemas (which
  // `cdk8s import` normally downloads) spell them as unions, which json2jsii renders as the
  // IntOrString and Quantity classes that cdk8s-plus and our code use.
  definitions['io.k8s.apimachinery.pkg.util.intstr.IntOrString'] = {
    ...definitions['io.k8s.apimachinery.pkg.util.intstr.IntOrString'],
    type: undefined, format: undefined,
    oneOf: [{ type: 'string' }, { type: 'integer' }],
  };
  definitions['io.k8s.apimachinery.pkg.api.resource.Quantity'] = {
    ...definitions['io.k8s.apimachinery.pkg.api.resource.Quantity'],
    type: undefined, format: undefined,
    oneOf: [{ type: 'string' }, { type: 'number' }],
  };
  return JSON.stringify({ definitions });
};
