// Used by scripts/regenerate-imports.sh: writes the part of a CRD the constructs are typed against.
//
//   node scripts/imports/trim-crd.js <crd.yaml> <out.yaml> [<schema path to keep only some of>=<kept,names> ...]
//
// `cdk8s import` generates a class for every version of a CRD and a type for every branch of its
// schema. The clusters (and the tests) install the whole CRDs of imports/crds/; the bindings only
// need the storage version and the branches the constructs fill in. Without trimming, cert-manager's
// Issuer (every ACME DNS provider, a whole pod template), External Secrets' ClusterSecretStore
// (about forty secret managers) and the Gateway API's HTTPRoute (three versions) would add about
// 4 MB of TypeScript to every compile. Each `path=names` keeps only `names` among the properties
// of the object schema at `path` (dot-separated property names below the version's spec schema).
'use strict';
const fs = require('fs');
const { parseAllDocuments, stringify } = require('yaml');

const [file, out, ...keeps] = process.argv.slice(2);
const crd = parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJSON()).find((d) => d && d.kind === 'CustomResourceDefinition');
if (!crd) {
  console.error(`trim-crd: no CustomResourceDefinition in ${file}`);
  process.exit(1);
}
const storage = crd.spec.versions.filter((v) => v.storage);
if (storage.length !== 1) {
  console.error(`trim-crd: ${crd.metadata.name} has ${storage.length} storage versions, expected one`);
  process.exit(1);
}
crd.spec.versions = storage;
const root = storage[0].schema.openAPIV3Schema;
for (const keep of keeps) {
  const [at, names] = keep.split('=');
  let schema = root;
  for (const property of at.split('.')) {
    schema = schema.properties?.[property] ?? schema.items?.properties?.[property];
    if (!schema) {
      console.error(`trim-crd: ${crd.metadata.name} has no schema at ${at} (at ${property})`);
      process.exit(1);
    }
  }
  const target = schema.items ?? schema;
  const wanted = names.split(',');
  const missing = wanted.filter((name) => !(name in (target.properties ?? {})));
  if (missing.length > 0) {
    console.error(`trim-crd: ${crd.metadata.name} has no ${missing.join(', ')} at ${at}`);
    process.exit(1);
  }
  target.properties = Object.fromEntries(Object.entries(target.properties).filter(([name]) => wanted.includes(name)));
  if (target.required) target.required = target.required.filter((name) => wanted.includes(name));
}
fs.writeFileSync(out, '---\n' + stringify(crd, { lineWidth: 0 }));
