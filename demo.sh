#!/usr/bin/env bash
# make demo: build the demo image from the host's busybox-static, play manifests/demo.yaml, show it working.
set -euo pipefail
KUBEPLAY=${1:-.venv/bin/kubeplay}
cd "$(dirname "$0")"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "==> building the demo image from /bin/busybox (no registry needed)"
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ -e "$work/rootfs/bin/$applet" ] || ln -s busybox "$work/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$work/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$work/rootfs/etc/group"
chmod 1777 "$work/rootfs/tmp"
tar -C "$work/rootfs" --numeric-owner -cf "$work/rootfs.tar" .
"$KUBEPLAY" image import "$work/rootfs.tar" localhost/kubeplay-demo:latest --change 'CMD ["sh"]' >/dev/null
"$KUBEPLAY" images

echo
echo "==> kubeplay play manifests/demo.yaml"
"$KUBEPLAY" play --replace manifests/demo.yaml
"$KUBEPLAY" pods

echo
echo "==> the client container fetches the page from the web container over the pod's localhost"
for _ in $(seq 1 20); do
  if "$KUBEPLAY" logs demo -c client 2>/dev/null | grep -q hello; then break; fi
  sleep 0.5
done
"$KUBEPLAY" logs demo -c client --tail 3

echo
echo "==> and the host reaches it through hostPort 18080"
# python3 fetches the page: a minimal Debian has no wget, and busybox-static's wget crashed there
fetch='import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:18080/", timeout=2).read().decode().strip())'
page=""
for _ in $(seq 1 20); do
  if page=$(python3 -c "$fetch" 2>/dev/null); then break; fi
  page=""
  sleep 0.5
done
if [ -z "$page" ]; then
  echo "error: http://127.0.0.1:18080/ did not answer within 10 s" >&2
  echo "hint: \`$KUBEPLAY system check\` names what this host lacks; \`$KUBEPLAY logs demo -c web\` shows the server" >&2
  exit 1
fi
echo "GET http://127.0.0.1:18080/ -> $page"

echo
echo "The pod keeps running. Try: $KUBEPLAY exec demo -c web -- ps    |   $KUBEPLAY down manifests/demo.yaml"
