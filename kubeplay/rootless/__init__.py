"""Rootless mode: what an unprivileged user needs beyond what root has.

One pause process per user (and run root) holds a user namespace and a mount namespace; every
command joins it (``userns``), with id maps from /etc/subuid and /etc/subgid (``subids``) written by
newuidmap/newgidmap. Inside, kubeplay is uid 0 of that namespace: containers run in it, rootfs are
native overlay mounts (or fuse-overlayfs, ``overlay``), and each pod's network namespace is
connected to the host by pasta or slirp4netns (``network``). ``readiness`` tells what is missing.
"""
