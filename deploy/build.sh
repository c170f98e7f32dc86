#!/usr/bin/env bash
# Builds the operator as a static Linux binary for one architecture: the
# build step of deploy/Dockerfile, and the same step the image test runs
# natively (tests/image-build.sh), so the two cannot drift apart.
#
#   bash deploy/build.sh ARCH OUT [PROFILE [CARGO ARGS...]]
#
# ARCH is Docker's name (amd64 or arm64, as in TARGETARCH); the binary goes
# to OUT/chime-pipeline-operator. PROFILE defaults to release; further
# arguments go to cargo (the tests use them to make their build cheaper).
# Needs rustup's musl target for ARCH and cargo-zigbuild with zig: zig links
# musl for either architecture from one host, C code (aws-lc) included, so no
# cross gcc or sysroot is needed.
set -euo pipefail
arch=${1:?usage: build.sh ARCH OUT [PROFILE]}
out=${2:?usage: build.sh ARCH OUT [PROFILE]}
profile=${3:-release}
shift $(($# < 3 ? $# : 3))
case "$arch" in
  amd64) target=x86_64-unknown-linux-musl ;;
  # jemalloc fixes its page size when built, and a cross build cannot ask
  # the kernel: 64 KiB works on arm64 kernels with 4, 16 or 64 KiB pages.
  arm64) target=aarch64-unknown-linux-musl; export JEMALLOC_SYS_WITH_LG_PAGE=16 ;;
  *) echo "build.sh: unsupported architecture $arch (amd64, arm64)" >&2; exit 1 ;;
esac
cargo zigbuild --locked --profile "$profile" --target "$target" \
  -p chime-pipeline-operator --bin chime-pipeline-operator "$@"
# cargo names the dev profile's folder "debug".
dir=$profile
[ "$profile" = dev ] && dir=debug
install -D -m 0755 "${CARGO_TARGET_DIR:-target}/$target/$dir/chime-pipeline-operator" \
  "$out/chime-pipeline-operator"
