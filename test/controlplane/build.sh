#!/usr/bin/env bash
# Builds (once) and caches the test control plane and helm outside the repository.
# Prints the directory that holds the binaries. Rebuilds only what is missing.
#
#   PORTCULLIS_CACHE  cache root (default: ~/.cache/portcullis)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=etcd/version.env
source "$here/etcd/version.env"
cache=${PORTCULLIS_CACHE:-$HOME/.cache/portcullis}
out="$cache/k8s/${KUBERNETES_VERSION}"
helm_out="$cache/helm/${HELM_VERSION}"
mkdir -p "$out" "$helm_out"
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod

log() { echo "controlplane: $*" >&2; }

build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)

if [ ! -x "$out/kube-apiserver" ]; then
  log "building kube-apiserver ${KUBERNETES_VERSION} (first time only; several minutes on 2 cores)"
  major=${KUBERNETES_VERSION#v}; major=${major%%.*}
  minor=${KUBERNETES_VERSION#v*.}; minor=${minor%%.*}
  ldflags=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${pkg}.gitVersion=${KUBERNETES_VERSION}"
    ldflags+=" -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor}"
    ldflags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${build_date}"
  done
  (cd "$here/kube" && go build -trimpath -ldflags "-s -w ${ldflags}" -o "$out/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
  mv "$out/kube-apiserver.tmp" "$out/kube-apiserver"
fi

if [ ! -x "$out/etcd" ]; then
  log "building etcd ${ETCD_VERSION}"
  (cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$out/etcd.tmp" "$out/etcd"
fi

if [ ! -x "$helm_out/helm" ]; then
  log "building helm ${HELM_VERSION}"
  GOBIN="$helm_out" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}" \
    "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
fi

echo "$out"
