"""UDP ports that pasta would hand on under another number are renumbered inside the pod's namespace.

The pasta of Debian 12 (0.0~git20230309) loses the answer to a UDP datagram it hands on from the
host's loopback (its splice path) to another port number in the namespace: the datagram arrives,
the answer never gets back to the sender. Under the same number both ways work. So pasta is given
HOST:HOST for such a port, and the namespace's own small nft table redirects HOST to the container
port (conntrack undoes it for the answer): in output for what pasta splices from the host's loopback,
in prerouting for what comes in through its tap device. The table goes with the namespace.

This concerns the loopback forwards the Services reach (a free host port to a declared UDP
containerPort) and UDP hostPorts published under another number. The pod's own traffic to HOST on
one of its local addresses is renumbered too, which only matters to a pod that also serves HOST.
"""

from __future__ import annotations

TABLE = "kubeplay-pod-ports"


def renumbered(protocol: str, host_port: int, container_port: int) -> bool:
    """Whether pasta gets this port under its host number, the namespace renumbering it."""
    return protocol.upper() == "UDP" and host_port != container_port


def renumber_script(pairs: list[tuple[int, int]]) -> str:
    """The namespace's table redirecting each (host port, container port) of UDP; "" for none."""
    if not pairs:
        return ""
    t = f"inet {TABLE}"
    lines = [f"add table {t}",
             f"add chain {t} prerouting {{ type nat hook prerouting priority dstnat ; policy accept ; }}",
             f"add chain {t} output {{ type nat hook output priority -100 ; policy accept ; }}"]
    for host_port, container_port in dict.fromkeys(pairs):
        for chain in ("prerouting", "output"):
            lines.append(f"add rule {t} {chain} fib daddr type local udp dport {host_port} "
                         f"redirect to :{container_port}")
    return "\n".join(lines) + "\n"
