#!/usr/bin/env bash
# Regenerates imports/ offline from pinned sources served by the Go module proxy.
#
#   npm run import
#
# - k8s: the API definitions of k8s.io/kubernetes@K8S_API_VERSION (api/openapi-spec/swagger.json),
#   fed to the real `cdk8s import k8s@K8S_API_VERSION` through scripts/imports/offline-schema.js.
# - CRDs: copied from the released Go modules into imports/crds/, then `cdk8s import` of each file.
# Versions are pinned here and in cdk8s.yaml; change both together.
set -euo pipefail
cd "$(dirname "$0")/.."

K8S_API_VERSION=1.27.0
KARPENTER_VERSION=v1.8.0
PROMETHEUS_OPERATOR_VERSION=v0.85.0
# Also in scripts/control-plane/build-argo-rollouts.sh (the controller the cluster tests run); change both together.
ARGO_ROLLOUTS_VERSION=v1.10.1
ISTIO_API_VERSION=v1.32.0
# The edge and the secret manager (the Gateway API's version is the one Traefik v3.6, which the tests
# run, is built against). Also in scripts/edge/; change both together.
GATEWAY_API_VERSION=v1.4.1
CERT_MANAGER_VERSION=v1.21.2
EXTERNAL_SECRETS_VERSION=v0.16.2

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CDK8S_CHECK_UPGRADE=false

module_dir() {
  local dir
  if ! dir=$(cd "$(mktemp -d)" && go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'); then
    echo "regenerate-imports: could not download Go module $1 (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))" >&2
    exit 1
  fi
  [ -n "$dir" ] || { echo "regenerate-imports: go mod download gave no directory for $1" >&2; exit 1; }
  echo "$dir"
}

echo "regenerate-imports: fetching pinned modules"
k8s_dir=$(module_dir "k8s.io/kubernetes@v${K8S_API_VERSION}")
karpenter_dir=$(module_dir "sigs.k8s.io/karpenter@${KARPENTER_VERSION}")
prometheus_dir=$(module_dir "github.com/prometheus-operator/prometheus-operator@${PROMETHEUS_OPERATOR_VERSION}")
argo_rollouts_dir=$(module_dir "github.com/argoproj/argo-rollouts@${ARGO_ROLLOUTS_VERSION}")
istio_api_dir=$(module_dir "istio.io/api@${ISTIO_API_VERSION}")
gateway_api_dir=$(module_dir "sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}")
cert_manager_dir=$(module_dir "github.com/cert-manager/cert-manager@${CERT_MANAGER_VERSION}")
external_secrets_dir=$(module_dir "github.com/external-secrets/external-secrets@${EXTERNAL_SECRETS_VERSION}")

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/crds"
install -m 0644 "$karpenter_dir/pkg/apis/crds/karpenter.sh_nodepools.yaml" "$staging/crds/"
install -m 0644 "$prometheus_dir/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" "$staging/crds/"
install -m 0644 "$prometheus_dir/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" "$staging/crds/"
# Argo Rollouts names its CRD files by kind; renamed to the <group>_<plural>.yaml form of the others.
for crd in rollout:rollouts analysis-template:analysistemplates cluster-analysis-template:clusteranalysistemplates analysis-run:analysisruns experiment:experiments; do
  install -m 0644 "$argo_rollouts_dir/manifests/crds/${crd%%:*}-crd.yaml" "$staging/crds/argoproj.io_${crd##*:}.yaml"
done
# Istio ships every CRD in one file: the two a mesh canary uses (the VirtualService whose weights
# Argo Rollouts moves, the DestinationRule whose subsets it labels) are taken out of it.
for plural in destinationrules virtualservices; do
  node -e '
    const fs = require("fs"); const { parseAllDocuments, stringify } = require("yaml");
    const [file, name, out] = process.argv.slice(1);
    const crd = parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJSON()).find((d) => d && d.metadata && d.metadata.name === name);
    if (!crd) { console.error(`regenerate-imports: no CRD ${name} in ${file}`); process.exit(1); }
    fs.writeFileSync(out, "---\n" + stringify(crd, { lineWidth: 0 }));
  ' "$istio_api_dir/kubernetes/customresourcedefinitions.gen.yaml" "$plural.networking.istio.io" "$staging/crds/networking.istio.io_$plural.yaml"
done

# The Gateway API's standard channel: every kind a controller such as Traefik watches.
for plural in gatewayclasses gateways httproutes grpcroutes referencegrants backendtlspolicies; do
  install -m 0644 "$gateway_api_dir/config/crd/standard/gateway.networking.k8s.io_$plural.yaml" "$staging/crds/"
done
# Every CRD cert-manager's controller watches, and the External Secrets CRDs its controller needs
# for the stores and secrets the constructs create.
install -m 0644 "$cert_manager_dir"/deploy/crds/*cert-manager.io_*.yaml "$staging/crds/"
for plural in externalsecrets secretstores clustersecretstores clusterexternalsecrets pushsecrets clusterpushsecrets; do
  install -m 0644 "$external_secrets_dir/config/crds/bases/external-secrets.io_$plural.yaml" "$staging/crds/"
done

echo "regenerate-imports: cdk8s import k8s@${K8S_API_VERSION}"
NAUTILUS_K8S_SWAGGER="$k8s_dir/api/openapi-spec/swagger.json" \
  node -r ./scripts/imports/offline-schema.js node_modules/.bin/cdk8s import "k8s@${K8S_API_VERSION}" \
  --language typescript --output "$staging"
# `cdk8s import` writes one file per API group, so CRDs of the same group (ServiceMonitor and
# PrometheusRule) are imported together from one multi-document file, or the second would overwrite
# the first. It also appends every file it imports to cdk8s.yaml: the pinned list there is ours.
cp cdk8s.yaml "$staging/cdk8s.yaml.kept"
mkdir -p "$staging/groups"
# The constructs create Rollouts and AnalysisTemplates only; the controller's other CRDs
# (AnalysisRun, Experiment, ClusterAnalysisTemplate) are installed by the tests, not imported, as
# their bindings would add about 2 MB of TypeScript to every compile.
imported_crds=$(ls "$staging"/crds/*.yaml | grep -v -e argoproj.io_analysisruns -e argoproj.io_experiments -e argoproj.io_clusteranalysistemplates \
  -e gateway.networking.k8s.io_ -e cert-manager.io_ -e external-secrets.io_)
# Of the edge's and the secret manager's CRDs, the kinds the constructs create, trimmed to the
# branches they fill in (scripts/imports/trim-crd.js says why).
mkdir -p "$staging/trimmed"
trim() { node scripts/imports/trim-crd.js "$staging/crds/$1.yaml" "$staging/trimmed/$1.yaml" "${@:2}"; }
trim gateway.networking.k8s.io_gateways
trim gateway.networking.k8s.io_httproutes
trim cert-manager.io_certificates
trim cert-manager.io_issuers spec=acme,ca,selfSigned spec.acme.solvers=http01 spec.acme.solvers.http01=gatewayHTTPRoute,ingress \
  spec.acme.solvers.http01.ingress=ingressClassName,serviceType spec.acme.solvers.http01.gatewayHTTPRoute=parentRefs,serviceType
trim external-secrets.io_externalsecrets
trim external-secrets.io_clustersecretstores spec.provider=vault
imported_crds="$imported_crds $(ls "$staging"/trimmed/*.yaml)"
for crd in $imported_crds; do
  group=$(basename "$crd" .yaml); group=${group%%_*}
  { cat "$crd"; echo '---'; } >> "$staging/groups/$group.yaml"
done
for grouped in "$staging"/groups/*.yaml; do
  echo "regenerate-imports: cdk8s import the $(basename "$grouped" .yaml) CRDs"
  node node_modules/.bin/cdk8s import "$grouped" --language typescript --output "$staging"
done
cp "$staging/cdk8s.yaml.kept" cdk8s.yaml

# Replace the generated files only once everything above succeeded.
cp "$staging"/*.ts imports/
rm -rf imports/crds && cp -r "$staging/crds" imports/crds
echo "regenerate-imports: done"
ls imports
