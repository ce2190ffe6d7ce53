#!/usr/bin/env bash
# Builds (once) and caches the test control plane and helm outside the repository.
# Prints the directory that holds the binaries. Rebuilds only what is missing.
#
#   build.sh [CMD...]   also build these k8s.io/kubernetes/cmd/CMD (the node: kubelet kube-proxy
#                       kube-scheduler; test/cluster/build.sh asks for them)
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
major=${KUBERNETES_VERSION#v}; major=${major%%.*}
minor=${KUBERNETES_VERSION#v*.}; minor=${minor%%.*}
# The version the binaries report (/version, `kubectl version`) is the one we actually built.
kube_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X ${pkg}.gitVersion=${KUBERNETES_VERSION}"
  kube_ldflags+=" -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor}"
  kube_ldflags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${build_date}"
done

# build_kube NAME: builds k8s.io/kubernetes/cmd/NAME into the cache unless it is already there.
build_kube() {
  [ -x "$out/$1" ] && return 0
  log "building $1 ${KUBERNETES_VERSION} (first time only; several minutes on 2 cores)"
  (cd "$here/kube" && go build -trimpath -ldflags "-s -w ${kube_ldflags}" -o "$out/$1.tmp" "k8s.io/kubernetes/cmd/$1")
  mv "$out/$1.tmp" "$out/$1"
}

build_kube kube-apiserver
# Runs the garbage collector and namespace controller, so ownerReferences and namespace deletion act.
build_kube kube-controller-manager
for extra in "$@"; do build_kube "$extra"; done
# Machines ship a kubectl; build one only where none is on PATH.
if ! command -v kubectl >/dev/null 2>&1; then build_kube kubectl; fi

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
