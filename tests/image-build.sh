#!/usr/bin/env bash
# Stands in for deploy/Dockerfile's build stage, which cannot run here (its
# base image would have to be pulled): builds the operator for amd64 and
# arm64 natively, from a tree holding ONLY what that stage's COPY lines copy,
# with the command its RUN line runs (deploy/build.sh). So a workspace member
# or file the Dockerfile forgets to copy fails this build, as it would fail
# `docker build`.
#
#   bash tests/image-build.sh
#
# It builds with the dev profile made cheaper still (dependencies without
# optimisation, no debug info): the tests need a binary that runs, not a
# fast one, and CI time is short. The Dockerfile builds release.
#
# Writes target/image/<arch>/ with out/chime-pipeline-operator and
# etc/ssl/certs/ca-certificates.crt: what the build stage leaves for the
# final one, ready for `buildah bud --build-context build=target/image/<arch>`.
# Prints that parent folder on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cheap=(--config 'profile.dev.package."*".opt-level=0' --config profile.dev.debug=false
  --config profile.dev.strip=true)
export PATH="$(bash tests/provision-tools.sh):$PATH"
work=${CARGO_TARGET_DIR:-$root/target}/image
ctx=$work/context
mkdir -p "$work"
# Tests may call this at the same time: one builds, the other then finds
# the build current.
exec 8>"$work/.lock"
flock 8

# The build stage: from `FROM ... AS build` to the next FROM.
stage=$(awk '/^FROM /{inside = ($0 ~ / AS build$/)} inside' deploy/Dockerfile)
[ -n "$stage" ] || { echo "image-build: deploy/Dockerfile has no stage named build" >&2; exit 1; }
grep -q 'bash deploy/build.sh "\$TARGETARCH" /out/ release' <<<"$stage" || {
  echo "image-build: the build stage no longer runs deploy/build.sh; update this script" >&2
  exit 1
}

# A fresh tree each time; copies keep their modification times, so cargo's
# incremental build (in a target folder outside the tree) stays warm.
rm -rf "$ctx" && mkdir -p "$ctx"
while read -r -a words; do
  [ "${words[0]}" = COPY ] || continue
  case "${words[1]}" in --*) continue ;; esac # COPY --from=...: not the context
  n=${#words[@]}
  dest=${words[$((n - 1))]}
  for ((i = 1; i < n - 1; i++)); do
    src=${words[$i]}
    if [ -d "$src" ]; then
      mkdir -p "$ctx/$dest"
      # deploy/Dockerfile.dockerignore keeps target/ out of the context.
      rsync -a --exclude target/ "$src/" "$ctx/$dest/"
    elif [ "${dest%/}" != "$dest" ]; then # into a folder
      mkdir -p "$ctx/$dest"
      cp -p "$src" "$ctx/$dest"
    else
      mkdir -p "$(dirname "$ctx/$dest")"
      cp -p "$src" "$ctx/$dest"
    fi
  done
done <<<"$stage"

for arch in amd64 arm64; do
  out=$work/$arch
  mkdir -p "$out/etc/ssl/certs" "$out/.new"
  (cd "$ctx" && CARGO_TARGET_DIR="$work/target" bash deploy/build.sh "$arch" "$out/.new" dev "${cheap[@]}") >&2
  # By rename: a test may be running the previous binary.
  mkdir -p "$out/out"
  mv "$out/.new/chime-pipeline-operator" "$out/out/chime-pipeline-operator"
  cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/.new.crt"
  mv "$out/etc/ssl/certs/.new.crt" "$out/etc/ssl/certs/ca-certificates.crt"
  rmdir "$out/.new"
done
echo "$work"
