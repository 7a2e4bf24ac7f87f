#!/usr/bin/env bash
# Run a command in a clean Debian 12 (bookworm) root, in a clone of this repository's HEAD, as the
# README's newcomer would: a minimal system with only git and make installed, /run a tmpfs mounted
# nosuid,nodev as systemd mounts it, and nothing of the host's Python, pip caches or packages.
#
#   tests/install/fresh_root.sh COMMAND
#
# The minimal root is made once with debootstrap and kept as a tarball in $KUBEPLAY_FRESH_CACHE
# (default /var/cache/kubeplay-tests); every run unpacks a new copy under /tmp and deletes it after.
# COMMAND runs as root in new mount and PID namespaces: when it ends, every process it left
# (conmon, containers, a registry an apt package started) and every mount it made go with them.
# The network, the kernel and the cgroup tree are the host's, so COMMAND must remove what it puts
# there (bridges, nft tables, cgroups). Exit status: COMMAND's; 125 when the root cannot be made.
set -euo pipefail

COMMAND=${1:?usage: fresh_root.sh COMMAND}
REPO=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
CACHE=${KUBEPLAY_FRESH_CACHE:-/var/cache/kubeplay-tests}
BASE_VERSION=1
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

fail() { echo "fresh_root: $*" >&2; exit 125; }

# The mirror this host's apt uses, so the root is built from the same place.
mirror() {
  local uri
  uri=$(grep -hs -m1 -E '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | head -n1)
  [ -n "$uri" ] || uri=$(grep -hs -m1 -E '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -n1)
  echo "${uri:-http://deb.debian.org/debian}"
}

build_base() {
  local tarball=$1 stage
  command -v debootstrap >/dev/null || fail "debootstrap is not installed (apt-get install debootstrap)"
  stage=$(mktemp -d /tmp/kp-fresh-base-XXXXXX)
  chmod 0755 "$stage"
  # debootstrap mounts /proc and /sys in the target: a private mount namespace keeps them there
  if ! unshare --mount --propagation private \
      debootstrap --variant=minbase --include=git,make,ca-certificates bookworm "$stage" "$(mirror)" \
      > "$stage.log" 2>&1; then
    tail -n 20 "$stage.log" >&2; rm -rf "$stage" "$stage.log"; fail "debootstrap failed"
  fi
  chroot "$stage" apt-get clean
  rm -rf "$stage"/var/lib/apt/lists/*
  mkdir -p "$CACHE"
  tar -C "$stage" --numeric-owner -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
  rm -rf "$stage" "$stage.log"
}

# What a machine on this network has besides the base system: its resolver, its apt sources and
# network settings (proxies), and the local certificate authorities that its TLS traffic needs.
copy_host_network_settings() {
  local root=$1 file
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
  [ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$root/etc/apt/sources.list"
  for file in /etc/apt/apt.conf.d/*; do
    grep -qs 'Acquire' "$file" && cp "$file" "$root/etc/apt/apt.conf.d/"
  done
  # (with subdirectories: update-ca-certificates reads them too)
  cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
}

# Runs as PID 1 of the new PID namespace, in a private mount namespace. The root is entered with
# pivot_root, not chroot, so that it is the mount namespace's own root as on a booted machine: in a
# chroot, `runc exec` joins a container's mount namespace at that namespace's root, which is then
# the host's / instead of the container's.
inside() {
  local root=$1 command=$2
  mount --bind "$root" "$root"
  mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs "$root/run"
  mount -t tmpfs -o nosuid,nodev tmpfs "$root/dev/shm"
  mkdir -p "$root/run/lock" "$root/.host"
  cd "$root"
  pivot_root . .host
  umount -l /.host
  rmdir /.host
  # the local authorities copied in join the system's bundle, as the admin of such a machine did
  update-ca-certificates >/dev/null || echo "fresh_root: update-ca-certificates failed" >&2
  exec /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd /root/project && $command"
}

if [ "$COMMAND" = "--inside" ]; then
  inside "$2" "$3"
fi

tarball="$CACHE/bookworm-minbase-v$BASE_VERSION.tar"
[ -f "$tarball" ] || build_base "$tarball"

work=$(mktemp -d /tmp/kp-fresh-XXXXXX)
cleanup() {
  if grep -qs " $work" /proc/self/mounts; then
    echo "fresh_root: mounts remain under $work; not deleting it" >&2
  else
    rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT
mkdir "$work/root"
tar -C "$work/root" -xf "$tarball" || fail "cannot unpack $tarball"
chmod 0755 "$work/root"   # mktemp made the base's top 0700; a real / lets every user through
copy_host_network_settings "$work/root"
git clone -q --no-hardlinks "$REPO" "$work/root/root/project" || fail "cannot clone $REPO"

set +e
unshare --mount --pid --fork --kill-child --propagation private "$0" --inside "$work/root" "$COMMAND"
status=$?
exit $status
