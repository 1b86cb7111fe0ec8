#!/usr/bin/env bash
# Usage: oci-image.sh OUT (from scripts/setup-images.sh, after busybox.tar.gz)
# OUT/oci: an OCI image layout, tag `latest`, with two layers and a config, made with umoci:
# - layer 1 is busybox.tar.gz's archive verbatim (umoci raw add-layer): device nodes, ACLs (GNU tar with
#   --xattrs also stores them as system.posix_acl_* xattrs, the form umoci applies), xattrs and the
#   capability. umoci unpacks it all as root; --rootless makes the device nodes empty files instead.
# - layer 2 whites out /srv/layers/remove-me (.wh.remove-me) and makes /srv/layers/replace opaque
#   (.wh..wh..opq), adding /srv/layers/replace/new.
# OUT/oci.expect says what the unpacked image must and must not hold, and its config.
set -euo pipefail
out=${1:?usage: oci-image.sh OUT}
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT

gzip -dc "$out/busybox.tar.gz" >"$w/layer1.tar"
mkdir -p "$w/layer2/srv/layers/replace"
: >"$w/layer2/srv/layers/.wh.remove-me"
: >"$w/layer2/srv/layers/replace/.wh..wh..opq"
echo 'added by the second layer' >"$w/layer2/srv/layers/replace/new"
# Layer 2's directories replace layer 1's: the same mtime keeps them equal.
find "$w/layer2" -depth -exec touch -h -d '2020-01-02 03:04:05 UTC' {} +
tar --numeric-owner --owner=0 --group=0 --sort=name -C "$w/layer2" -cf "$w/layer2.tar" srv

oci=$out/oci
umoci init --layout "$oci"
umoci new --image "$oci:latest"
umoci raw add-layer --image "$oci:latest" --history.comment 'busybox.tar.gz' "$w/layer1.tar"
umoci raw add-layer --image "$oci:latest" --history.comment 'a whiteout, an opaque directory' "$w/layer2.tar"
umoci config --image "$oci:latest" --config.entrypoint /bin/sh --config.cmd -c --config.cmd 'id; pwd' \
  --config.env PATH=/usr/bin:/bin --config.env FIXTURE=oci --config.user 1234:5678 --config.workingdir /srv
umoci gc --layout "$oci" # the manifests and configs each step above replaced

cat >"$out/oci.expect" <<'EOF'
# What `umoci raw unpack --image oci:latest` (as root) must give, and the image's config.
# present/absent PATH; config JSON (fields the config must have, with these values).
present /bin/busybox
present /dev/null
present /srv/layers/replace/new
absent /srv/layers/remove-me
absent /srv/layers/.wh.remove-me
absent /srv/layers/replace/old
absent /srv/layers/replace/.wh..wh..opq
config {"Entrypoint":["/bin/sh"],"Cmd":["-c","id; pwd"],"Env":["PATH=/usr/bin:/bin","FIXTURE=oci"],"User":"1234:5678","WorkingDir":"/srv"}
EOF
