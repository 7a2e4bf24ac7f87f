"""Where root's store lives, how a rootless re-exec is marked, and this machine's node name: plain
values that the lowest layers (config, store) share."""

import os

ROOT_GRAPH_ROOT = "/var/lib/kubeplay"
ROOT_RUN_ROOT = "/run/kubeplay"
DATABASE_NAME = "kubeplay.db"
# Set by kubeplay.rootless once a command has joined the user's namespace (where it is uid 0):
# "UID:GID" of the user outside. Inherited by conmon's exit commands, which run inside too.
ROOTLESS_UID_ENV = "KUBEPLAY_ROOTLESS_UID"


def node_name() -> str:
    """What spec.nodeName is for pods played here: the host's name, as the kubelet registers it."""
    return os.uname().nodename or "localhost"
# A file in a container's bundle: its pod is being removed, so its exit callback has nothing to do
REMOVING_MARK = "removing"
