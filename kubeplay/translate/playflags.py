"""podman's `kube play` flags that change the pods themselves: --annotation, --ip, --mac-address,
--userns and --log-driver, checked and applied to the translated plans."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace

from kubeplay.errors import UserError
from kubeplay.model.plan import PodPlan

# a qualified name with an optional DNS prefix, as Kubernetes checks annotation keys
ANNOTATION_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
LOG_DRIVERS = ("k8s-file",)
USER_NAMESPACES = ("", "host")


@dataclass(frozen=True)
class PodFlags:
    annotations: dict[str, str] = field(default_factory=dict)
    ip: str = ""
    mac_address: str = ""


def parse_pod_flags(annotations: tuple[str, ...], ip: str, mac_address: str, userns: str,
                    log_driver: str) -> PodFlags:
    """The flags, checked before anything is read or made."""
    if log_driver not in ("", *LOG_DRIVERS):
        raise UserError(f"--log-driver {log_driver}: kubeplay writes container logs as k8s-file only",
                        hint="drop --log-driver, or give --log-driver k8s-file; `kubeplay logs` reads them")
    if userns not in USER_NAMESPACES:
        raise UserError(f"--userns {userns}: kubeplay runs pods in the host's user namespace only",
                        hint="drop --userns (or give --userns host); rootless kubeplay maps your user itself")
    parsed = {}
    for entry in annotations:
        key, equals, value = entry.partition("=")
        if not equals or not ANNOTATION_KEY.match(key):
            raise UserError(f"--annotation {entry!r}: expected KEY=VALUE with a Kubernetes annotation key",
                            hint="for example --annotation team=web or --annotation example.com/owner=me")
        parsed[key] = value
    if ip:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            address = None
        if address is None or address.version != 4:
            raise UserError(f"--ip {ip!r} is not an IPv4 address", hint="for example --ip 10.88.0.50")
    if mac_address and (not MAC.match(mac_address) or int(mac_address[:2], 16) & 1):
        raise UserError(f"--mac-address {mac_address!r} is not a unicast MAC address",
                        hint="six hex pairs with an even first byte, e.g. 92:d0:c6:0a:29:33")
    return PodFlags(parsed, ip, mac_address.lower())


def apply_pod_flags(pods: list[PodPlan], flags: PodFlags) -> list[PodPlan]:
    """The pods with the annotations added (over the manifests' own), and the address and MAC
    given to the one pod there must be."""
    if (flags.ip or flags.mac_address) and len(pods) != 1:
        raise UserError(f"--ip and --mac-address apply to one pod, but these manifests make {len(pods)}",
                        hint="play the pod that needs a fixed address on its own")
    if (flags.ip or flags.mac_address) and pods and (pods[0].host_network or pods[0].network == "none"):
        raise UserError(f'--ip/--mac-address: pod "{pods[0].name}" has no interface of its own to give them to',
                        hint="drop hostNetwork (or --network none) to give the pod an address")
    return [replace(pod, annotations={**pod.annotations, **flags.annotations},
                    static_ip=flags.ip or pod.static_ip, mac_address=flags.mac_address or pod.mac_address)
            for pod in pods]
