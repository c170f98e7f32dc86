#!/usr/bin/env bash
# Provisions what the image, install and monitoring tests need besides the
# control plane (tests/provision.sh): Debian's podman, buildah, runc,
# qemu-user-static (runs the arm64 binary) and prometheus (promtool);
# rustup's musl targets for x86_64 and aarch64; zig and kubernetes-validate
# in a Python venv; cargo-zigbuild. All cached outside the repository, next
# to the control plane build.
#
# Prints progress on stderr; on success prints the folder to put first on
# PATH (zig, cargo-zigbuild, kubernetes-validate).
#
# Idempotent and safe to run twice at once (a lock serialises runs); each
# step is skipped when its result is there.
set -euo pipefail

CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/chime-pipeline-operator"
TOOLS="$CACHE_ROOT/tools"
# Pinned so that a cached tool and a fresh one are the same.
ZIGBUILD_VERSION=0.24.1
ZIGLANG_VERSION=0.17.1
KUBERNETES_VALIDATE_VERSION=1.37.0
log() { echo "provision-tools: $*" >&2; }

mkdir -p "$TOOLS/bin"
exec 9>"$CACHE_ROOT/provision-tools.lock"
flock 9

pkgs=(podman buildah runc qemu-user-static prometheus python3-venv ca-certificates)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "installing Debian packages needs root (run as root or install: ${missing[*]})"
    exit 1
  fi
  log "installing ${missing[*]}"
  # Installing prometheus must not start a Prometheus server.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  # Other configured repositories may be unreachable; Debian's own suffice.
  apt-get update -qq >&2 || log "apt-get update reported errors; continuing"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

for t in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
  if ! rustup target list --installed | grep -qx "$t"; then
    log "adding the Rust target $t"
    rustup target add "$t" >&2
  fi
done

# Debian's python3 (not whatever python3 is first on PATH), so the venv
# outlives changes to the machine's other Pythons.
venv="$TOOLS/venv"
if ! "$venv/bin/python3" -c 'import ziglang' 2>/dev/null \
  || ! [ -x "$venv/bin/kubernetes-validate" ]; then
  log "installing ziglang and kubernetes-validate"
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    "ziglang==$ZIGLANG_VERSION" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
fi
# cargo-zigbuild looks for `zig` on PATH.
printf '#!/bin/sh\nexec "%s" -m ziglang "$@"\n' "$venv/bin/python3" > "$TOOLS/bin/zig"
chmod +x "$TOOLS/bin/zig"
rm -f "$TOOLS/bin/python3"
ln -sfn "$venv/bin/kubernetes-validate" "$TOOLS/bin/kubernetes-validate"

if ! "$TOOLS/bin/cargo-zigbuild" --version 2>/dev/null | grep -q "$ZIGBUILD_VERSION"; then
  log "installing cargo-zigbuild $ZIGBUILD_VERSION"
  cargo install -q cargo-zigbuild --version "$ZIGBUILD_VERSION" --locked --root "$TOOLS" >&2
fi
echo "$TOOLS/bin"
