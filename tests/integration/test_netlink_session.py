"""The rtnetlink session kubeplay's networking uses, in a network namespace of its own that dies
with the thread that made it: links, addresses, routes, and the kernel's refusals as HostErrors
that keep the errno."""

from __future__ import annotations

import errno
import subprocess
import threading

import pytest

from kubeplay.errors import HostError
from kubeplay.libc import check, libc
from kubeplay.net.netlink import link_index, netlink_code, rtnl
from kubeplay.net.netns import CLONE_NEWNET

pytestmark = pytest.mark.root


def in_private_netns(work):
    """Run `work()` on a thread that unshared its network namespace; return its result or raise."""
    outcome: dict = {}

    def body() -> None:
        try:
            check(libc().unshare(CLONE_NEWNET), "unshare")
            outcome["value"] = work()
        except BaseException as exc:  # handed back below
            outcome["error"] = exc

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(30)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_links_addresses_and_a_default_route():
    def work():
        with rtnl("testing") as session:
            session.add_link("kpt-br", "bridge")
            bridge = link_index("kpt-br")
            session.add_address(bridge, "10.77.0.1", 24)
            session.set_link(bridge, up=True)
            session.add_link("kpt-a", "veth", peer="kpt-b")
            veth = link_index("kpt-a")
            session.set_link(veth, up=True, master=bridge)
            session.add_address(link_index("kpt-b"), "10.77.0.2", 24)
            session.set_link(link_index("kpt-b"), up=True)
            session.add_default_route("10.77.0.1", link_index("kpt-b"))
            found = {
                "addresses": session.addresses(bridge),
                # a child forked from this thread is in its network namespace (sysfs is not)
                "link": subprocess.run(["ip", "-o", "link", "show", "kpt-a"], capture_output=True, text=True).stdout,
                "routes": subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout,
            }
            session.delete_link(veth)  # takes its peer with it
            found["after"] = (link_index("kpt-a"), link_index("kpt-b"), link_index("kpt-br"))
            return found, bridge

    found, bridge = in_private_netns(work)
    assert found["addresses"] == [("10.77.0.1", 24)]
    assert "master kpt-br" in found["link"]
    flags = found["link"].split("<", 1)[1].split(">", 1)[0].split(",")
    assert "UP" in flags
    assert "default via 10.77.0.1 dev kpt-b" in found["routes"]
    assert found["after"][:2] == (None, None) and found["after"][2] == bridge


def test_refusals_keep_the_errno_and_name_the_step():
    def work():
        with pytest.raises(HostError) as exists:
            with rtnl("adding kpt-dup twice") as session:
                session.add_link("kpt-dup", "bridge")
                session.add_link("kpt-dup", "bridge")
        with pytest.raises(HostError) as missing:
            with rtnl("removing a link that is not there") as session:
                session.delete_link(999999)
        return exists.value, missing.value

    exists, missing = in_private_netns(work)
    assert netlink_code(exists) == errno.EEXIST and "adding kpt-dup twice" in exists.message
    assert netlink_code(missing) == errno.ENODEV and "removing a link" in missing.message
