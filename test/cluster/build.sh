#!/usr/bin/env bash
# Builds (once) and caches what `make cluster-up` runs besides the control plane: kubelet, kube-proxy and
# kube-scheduler (test/controlplane/build.sh, same Kubernetes version), kube-router (the NetworkPolicy
# firewall, a host process like kube-proxy), and the add-ons that run as pods, each a one-binary image
# archive for `ctr images import`:
#   pause                  from Kubernetes' own build/pause/linux/pause.c (gcc -static)
#   coredns                cluster DNS
#   local-path-provisioner the default StorageClass (hostPath volumes under the cluster's state dir)
#   busybox                the provisioner's helper pods (Debian's busybox-static: they run a shell script)
# Prints the directory that holds the images; kube-router is beside them, the Kubernetes binaries are in
# test/controlplane/build.sh's directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=../controlplane/versions.env
source "$here/../controlplane/versions.env"
cache=${PORTCULLIS_CACHE:-$HOME/.cache/portcullis}
images="$cache/cluster-images"
mkdir -p "$images"
log() { echo "cluster: $*" >&2; }

"$here/../controlplane/build.sh" kubelet kube-proxy kube-scheduler >/dev/null

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
# image NAME TAG: one binary at /NAME in an image tagged TAG, archived as $images/NAME-<tag version>.tar
# (the binary comes from build_NAME, which writes it to $1).
image() {
  local name=$1 tag=$2 out="$images/$1-${2##*:}.tar"
  [ -s "$out" ] && return 0
  log "building $name image ($tag)"
  local rootfs
  rootfs=$(mktemp -d)
  "build_$name" "$rootfs"
  node "$here/../../scripts/image/static-image.ts" "$tag" "$rootfs" "$out" "${@:3}"
  rm -rf "$rootfs"
}
go_tool() { # go_tool MODULE_DIR PACKAGE OUT
  (cd "$here/modules/$1" && go build -trimpath -ldflags "-s -w" -o "$3" "$2")
}

build_pause() {
  local k8s_dir
  k8s_dir=$(cd "$here/../controlplane/kube" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)
  gcc -Os -static -DVERSION="v${PAUSE_VERSION}" -o "$1/pause" "$k8s_dir/build/pause/linux/pause.c"
}
build_coredns() { go_tool coredns github.com/coredns/coredns "$1/coredns"; }
build_local-path-provisioner() { go_tool local-path-provisioner github.com/rancher/local-path-provisioner "$1/local-path-provisioner"; }
build_busybox() {
  mkdir -p "$1/bin" "$1/tmp"
  cp /bin/busybox "$1/bin/busybox"
  for applet in sh mkdir rm rmdir chmod ls cat; do ln -s busybox "$1/bin/$applet"; done
}

if [ ! -x "$images/kube-router-${KUBE_ROUTER_VERSION}" ]; then
  log "building kube-router ${KUBE_ROUTER_VERSION}"
  go_tool kube-router github.com/cloudnativelabs/kube-router/v2/cmd/kube-router "$images/kube-router.tmp"
  mv "$images/kube-router.tmp" "$images/kube-router-${KUBE_ROUTER_VERSION}"
fi
image pause "registry.k8s.io/pause:${PAUSE_VERSION}" /pause
image coredns "portcullis.test/coredns:${COREDNS_VERSION}" /coredns
image local-path-provisioner "portcullis.test/local-path-provisioner:${LOCAL_PATH_PROVISIONER_VERSION}" /local-path-provisioner
image busybox "portcullis.test/busybox:$(dpkg-query -W -f '${Version}' busybox-static | tr -c 'A-Za-z0-9_.\n-' '_')" /bin/sh
echo "$images"
