#!/usr/bin/env bash
# Provisions the test world's control plane binaries: Debian's etcd, and a
# kube-apiserver and kube-controller-manager built from Debian bookworm's
# `kubernetes` source package (the controller manager deletes namespaces,
# collects garbage and aggregates ClusterRoles); and what the tests run
# besides (lua5.1 for the Argo CD health checks).
#
# Prints nothing but progress on stderr; on success prints the cache folder
# (holding bin/etcd, bin/kube-apiserver and bin/kube-controller-manager) on
# stdout.
#
# Idempotent and safe to run twice at once: the build happens under a lock
# and is skipped when the cached binary exists.
#
# With CHIME_TEST_KUBECONFIG set, the tests use that cluster: nothing is
# built or started, only lua5.1 is installed.
set -euo pipefail

K8S_VERSION=1.20.2
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/chime-pipeline-operator"
CACHE="$CACHE_ROOT/k8s-$K8S_VERSION"
log() { echo "provision: $*" >&2; }

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/provision.lock"
flock 9

need_root() {
  if [ "$(id -u)" != 0 ]; then
    log "installing Debian packages needs root (run as root or install: $*)"
    exit 1
  fi
}

apt_updated=0
apt_update() {
  # Other configured repositories may be unreachable; a failure there must not
  # stop us as long as Debian's own lists arrive.
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq >&2 || log "apt-get update reported errors; continuing"
    apt_updated=1
  fi
}

# Runtime needs first (checked on every run, so a cached build on a machine
# that lost a package still works), then what the build needs.
pkgs=(lua5.1)
if [ -z "${CHIME_TEST_KUBECONFIG:-}" ]; then
  pkgs+=(etcd-server openssl procps)
fi
# What is built from the source package; a cache from before a binary was
# added gets only the missing one built.
BUILT=(kube-apiserver kube-controller-manager)
to_build=()
for b in "${BUILT[@]}"; do
  [ -x "$CACHE/bin/$b" ] || to_build+=("$b")
done
if [ -z "${CHIME_TEST_KUBECONFIG:-}" ] && [ ${#to_build[@]} -gt 0 ]; then
  pkgs+=(golang-go golang-github-modern-go-reflect2-dev dpkg-dev rsync)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  need_root "${missing[@]}"
  log "installing ${missing[*]}"
  # The image's stock etcd service must not start and hold port 2379.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if [ -n "${CHIME_TEST_KUBECONFIG:-}" ]; then
  log "CHIME_TEST_KUBECONFIG is set: using that cluster, nothing to build"
  exit 0
fi
if [ ${#to_build[@]} = 0 ] && [ -x "$CACHE/bin/etcd" ]; then
  log "cached: $CACHE"
  echo "$CACHE"
  exit 0
fi

# deb-src for bookworm main, taken from the stock Debian source file so that
# the mirror and key are whatever this machine already trusts.
SRC_LIST=/etc/apt/sources.list.d/chime-operator-deb-src.sources
if ! apt-get indextargets 2>/dev/null | grep -q 'Created-By: Sources'; then
  need_root dpkg-dev
  stock=/etc/apt/sources.list.d/debian.sources
  uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$stock")
  key=$(awk '/^Signed-By:/ {print $2; exit}' "$stock")
  [ -n "$uri" ] || { log "cannot find Debian's URI in $stock"; exit 1; }
  printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: %s\n' "$uri" "$key" > "$SRC_LIST"
  apt_updated=0
  apt_update
fi

WORK="$CACHE_ROOT/build-$K8S_VERSION"
rm -rf "$WORK" && mkdir -p "$WORK"
cd "$WORK"
log "fetching the kubernetes source package"
apt-get source -qq --download-only kubernetes >&2
orig=$(ls kubernetes_*.orig.tar.* | head -n1)
mkdir tree
tar -xf "$orig" -C tree --strip-components=1
cd tree

# reflect2 1.0.1 crashes under Go >= 1.18 (SIGSEGV in runtime.mapiterinit).
rsync -a --delete /usr/share/gocode/src/github.com/modern-go/reflect2/ vendor/github.com/modern-go/reflect2/
sed -i 's#github.com/modern-go/reflect2 v1.0.1#github.com/modern-go/reflect2 v1.0.2#' go.mod vendor/modules.txt
# go.sum entries for 1.0.1 do not matter with -mod=vendor.

mkdir -p .go/src/k8s.io
ln -sfn "$PWD" .go/src/k8s.io/kubernetes
log "building ${to_build[*]} $K8S_VERSION (several minutes)"
what=""
for b in "${to_build[@]}"; do what="$what cmd/$b"; done
(
  cd .go/src/k8s.io/kubernetes
  export GOPATH="$WORK/tree/.go" CGO_ENABLED=0 GO111MODULE=off GOFLAGS= GOCACHE="$WORK/gocache"
  make WHAT="${what# }" KUBE_BUILD_PLATFORMS=linux/amd64 >&2
)

# Each binary goes in by rename, so a test run using the cache meanwhile
# never sees a missing or half-written file.
mkdir -p "$CACHE/bin"
for b in "${to_build[@]}"; do
  bin=$(find _output -type f -name "$b" -perm -u+x | head -n1)
  [ -n "$bin" ] || { log "build produced no $b"; exit 1; }
  cp "$bin" "$CACHE/bin/.$b.tmp" && mv "$CACHE/bin/.$b.tmp" "$CACHE/bin/$b"
done
cp /usr/bin/etcd "$CACHE/bin/.etcd.tmp" && mv "$CACHE/bin/.etcd.tmp" "$CACHE/bin/etcd"
cd / && rm -rf "$WORK"
log "built: $CACHE"
echo "$CACHE"
