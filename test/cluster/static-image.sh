#!/usr/bin/env bash
# Writes a one-layer image, as a `docker save` archive that `ctr images import` loads, from a directory
# holding a static binary (and whatever else the container needs). No Docker engine, no registry.
#
#   static-image.sh TAG ROOTFS_DIR OUT.tar ENTRYPOINT...
#
# The layer is reproducible (sorted names, mtime 0, owner 0), so an unchanged rootfs gives the same digest.
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: static-image.sh TAG ROOTFS_DIR OUT.tar ENTRYPOINT..." >&2; exit 2; }
tag=$1 rootfs=$2 out=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
layer_digest=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mv "$work/layer.tar" "$work/$layer_digest.tar"

entrypoint=$(printf '%s\n' "$@" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().splitlines()))')
cat > "$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z",
 "config":{"Entrypoint":$entrypoint,"Env":["PATH=/usr/local/bin:/usr/bin:/bin"]},
 "rootfs":{"type":"layers","diff_ids":["sha256:$layer_digest"]},"history":[{"created_by":"test/cluster/static-image.sh"}]}
JSON
config_digest=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/$config_digest.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s.tar"]}]\n' "$config_digest" "$tag" "$layer_digest" > "$work/manifest.json"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work" -cf "$out.tmp" manifest.json "$config_digest.json" "$layer_digest.tar"
mv "$out.tmp" "$out"
