"""status.hostIP: the address of the interface with the default route, as `ip` reports it."""

import json
import subprocess

from kubeplay.net.hostaddr import host_address, interface_address


def _ip_json(*args: str) -> list[dict]:
    return json.loads(subprocess.run(["ip", "-j", "-4", *args], capture_output=True, text=True, check=True).stdout or "[]")


def test_host_address_is_the_default_route_interface_address():
    defaults = sorted(_ip_json("route", "show", "default"), key=lambda route: route.get("metric", 0))
    if not defaults:
        assert host_address() == interface_address(_first_global_interface()) or host_address() == "127.0.0.1"
        return
    addresses = [info["local"] for link in _ip_json("addr", "show", "dev", defaults[0]["dev"])
                 for info in link.get("addr_info", [])]
    assert host_address() in addresses
    assert not host_address().startswith("127.")


def test_interface_address_of_loopback_and_of_a_missing_interface():
    assert interface_address("lo") == "127.0.0.1"
    assert interface_address("kp-no-such0") is None


def _first_global_interface() -> str:
    for link in _ip_json("addr", "show", "scope", "global"):
        return link["ifname"]
    return "lo"
