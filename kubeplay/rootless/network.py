"""A rootless pod's network: its own network namespace, connected to the host by pasta (preferred)
or slirp4netns, one helper process per pod; published hostPorts are forwarded by that helper.

Every declared containerPort is also forwarded from a free port of the host's 127.0.0.1, so that
other pods of the user can reach it for a Service: from inside a pod the host's loopback is the
gateway address (pasta maps it to the host) or 10.0.2.2 (slirp4netns with host loopback), and the
pod's own nft table sends a cluster IP there (see pods/rootlessroutes.py). Those forwards are
kept in a small JSON file beside the namespace, read by whoever rewrites the Service routes.
A Service's node port is published by the helper of one pod the Service selects (a claim file
names it), to the same port number inside that pod, where its table spreads it over the Service's
ready pods (pods/rootlessnodeports.py).

Runs inside the per-user namespace, whose uid 0 owns the pod's network namespace (made here with
`unshare --net=PATH`, bind-mounted in the run root). The helper's pid is kept next to it so that
teardown stops exactly that process. Both helpers open /dev/net/tun, so it must be usable by the user.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kubeplay.errors import HostError, UserError
from kubeplay.model.plan import PortMapping
from kubeplay.nsfs import prepare_mount_point, remove_namespace_file

TUN = Path("/dev/net/tun")
HELPERS = ("pasta", "slirp4netns")
SLIRP_GUEST_IP = "10.0.2.100"  # the address slirp4netns --configure gives the tap device
SLIRP_HOST_LOOPBACK = "10.0.2.2"  # the host's 127.0.0.1 as a slirp4netns pod sees it
LOOPBACK = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
_TOOL_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin")


@dataclass(frozen=True)
class RootlessNet:
    """A rootless pod's network namespace, address and helper."""

    netns: Path
    ip: str
    helper: str  # "pasta", "slirp4netns", or "" for a pod with network "none"


@dataclass(frozen=True)
class LoopbackForward:
    """A declared containerPort of a rootless pod, reachable on the host's 127.0.0.1:host_port."""

    protocol: str  # TCP or UDP
    container_port: int
    host_port: int


@dataclass(frozen=True)
class Forwards:
    """How the other pods of the user reach this one: its loopback forwards, and the address at
    which the host's loopback is seen from inside this pod (its gateway for pasta)."""

    gateway: str
    ports: tuple[LoopbackForward, ...] = ()

    def host_port(self, protocol: str, container_port: int) -> int | None:
        for forward in self.ports:
            if (forward.protocol, forward.container_port) == (protocol, container_port):
                return forward.host_port
        return None


def _which(name: str) -> str | None:
    return shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), *_TOOL_DIRS]))


def netns_path(runroot: Path, pod_id: str) -> Path:
    return runroot / "netns" / pod_id


def helper_pidfile(runroot: Path, pod_id: str) -> Path:
    return runroot / "netns" / f"{pod_id}.helper"


def forwards_file(runroot: Path, pod_id: str) -> Path:
    return runroot / "netns" / f"{pod_id}.forwards"


def read_forwards(runroot: Path, pod_id: str) -> Forwards | None:
    """The pod's loopback forwards; None for a pod without a helper (or gone)."""
    try:
        data = json.loads(forwards_file(runroot, pod_id).read_text())
        return Forwards(data["gateway"], tuple(LoopbackForward(*entry) for entry in data["ports"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_forwards(runroot: Path, pod_id: str, forwards: Forwards) -> None:
    path = forwards_file(runroot, pod_id)
    temporary = path.with_suffix(".forwards-new")
    temporary.write_text(json.dumps({"gateway": forwards.gateway,
                                     "ports": [[f.protocol, f.container_port, f.host_port] for f in forwards.ports]}))
    temporary.replace(path)


def loopback_forwards(declared: list[PortMapping]) -> tuple[LoopbackForward, ...]:
    """A free host loopback port for each distinct declared (protocol, containerPort). The port is
    found by binding port 0 and let go at once: the helper binds it a moment later."""
    wanted = dict.fromkeys(((port.protocol or "TCP").upper(), port.container_port) for port in declared)
    forwards = []
    holders = []
    try:
        for protocol, container_port in wanted:
            kind = socket.SOCK_STREAM if protocol == "TCP" else socket.SOCK_DGRAM
            probe = socket.socket(socket.AF_INET, kind)
            holders.append(probe)  # held until all are chosen, so no two forwards get one port
            probe.bind((LOOPBACK, 0))
            forwards.append(LoopbackForward(protocol, container_port, probe.getsockname()[1]))
    finally:
        for probe in holders:
            probe.close()
    return tuple(forwards)


def node_port_claim(runroot: Path, protocol: str, number: int) -> Path:
    return runroot / "netns" / f"nodeport-{protocol.lower()}-{number}"


def claim_node_port(runroot: Path, pod_id: str, protocol: str, number: int) -> bool:
    """Take a Service's node port for this pod's helper to publish; False when a running pod has it.
    Only one helper can bind a host port, so the first pod to start holds it; a claim left by a
    pod whose namespace is gone is taken over."""
    path = node_port_claim(runroot, protocol, number)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            try:
                holder = path.read_text().strip()
            except FileNotFoundError:
                continue
            if holder == pod_id:
                return True
            if netns_path(runroot, holder).exists():
                return False
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # its pod is gone
            continue
        with os.fdopen(fd, "w") as claim:
            claim.write(pod_id)
        return True
    return False


def node_port_holder(runroot: Path, protocol: str, number: int) -> str:
    """The id of the pod whose helper publishes the node port, or ""."""
    try:
        holder = node_port_claim(runroot, protocol, number).read_text().strip()
    except OSError:
        return ""
    return holder if netns_path(runroot, holder).exists() else ""


def held_node_ports(runroot: Path, pod_id: str) -> list[tuple[str, int]]:
    """(protocol, number) of the node ports this pod's helper publishes."""
    held = []
    for path in sorted((runroot / "netns").glob("nodeport-*")):
        with contextlib.suppress(OSError, ValueError):
            if path.read_text().strip() == pod_id:
                _, protocol, number = path.name.split("-")
                held.append((protocol.upper(), int(number)))
    return held


def republish_node_port(runroot: Path, pod_id: str, protocol: str, number: int) -> bool:
    """Publish a node port whose holder is gone through this pod's slirp4netns, which takes on
    ports while it runs (a running pasta cannot); False when this pod's helper is not
    slirp4netns, another pod holds the port, or the host refuses it."""
    api = helper_pidfile(runroot, pod_id).with_suffix(".sock")
    if not api.exists() or not claim_node_port(runroot, pod_id, protocol, number):
        return False
    try:
        _slirp_request(api, hostfwd_requests([PortMapping(number, protocol, number)])[0])
        route_node_ports(netns_path(runroot, pod_id))
    except (HostError, UserError):
        claim = node_port_claim(runroot, protocol, number)
        with contextlib.suppress(OSError):
            if claim.read_text().strip() == pod_id:
                claim.unlink()
        return False
    return True


def release_node_ports(runroot: Path, pod_id: str) -> None:
    for path in (runroot / "netns").glob("nodeport-*"):
        with contextlib.suppress(OSError):
            if path.read_text().strip() == pod_id:
                path.unlink()


def check_service_port(where: str, number: int, start: int | None = None) -> None:
    """A rootless user's helper cannot publish a node port (or a LoadBalancer's port) below
    net.ipv4.ip_unprivileged_port_start."""
    limit = unprivileged_port_start() if start is None else start
    if number < limit:
        raise UserError(f"{where}: {number} is below net.ipv4.ip_unprivileged_port_start ({limit}), so a rootless "
                        "user cannot publish it on the host",
                        hint=f"as root lower the limit: `sysctl -w net.ipv4.ip_unprivileged_port_start={number}` "
                             "(keep it in /etc/sysctl.d/), use a ClusterIP Service, or play as root")


def unprivileged_port_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    except (OSError, ValueError):
        return 1024


def check_host_ports(pod_name: str, ports: list[PortMapping], start: int | None = None) -> None:
    """A rootless user cannot bind host ports below net.ipv4.ip_unprivileged_port_start."""
    limit = unprivileged_port_start() if start is None else start
    for port in ports:
        if port.host_port and port.host_port < limit:
            raise UserError(
                f"pod \"{pod_name}\": hostPort {port.host_port} is below net.ipv4.ip_unprivileged_port_start "
                f"({limit}), so a rootless user cannot publish it",
                hint=f"use a hostPort >= {limit}, or as root lower the limit: "
                     f"`sysctl -w net.ipv4.ip_unprivileged_port_start={port.host_port}` "
                     "(keep it in /etc/sysctl.d/ to survive a reboot)")


def choose_helper() -> tuple[str, str]:
    """(name, path) of pasta, else slirp4netns; HostError naming the package when neither exists."""
    for name in HELPERS:
        path = shutil.which(name)  # the user's PATH decides, as for any tool they choose
        if path:
            return name, path
    raise HostError("neither pasta nor slirp4netns is installed: a rootless pod's network needs one",
                    hint="as root run `apt-get install passt` (or `apt-get install slirp4netns`), "
                         "or give the pod hostNetwork: true")


def check_tun() -> None:
    try:
        os.close(os.open(TUN, os.O_RDWR))
    except OSError as exc:
        raise HostError(f"cannot open {TUN} ({exc.strerror}): pasta and slirp4netns need it for a rootless pod",
                        hint=f"as root run `chmod 0666 {TUN}` (the mode distributions ship; `modprobe tun` "
                             "if it is missing)") from exc


def pasta_argv(pasta: str, netns: Path, pidfile: Path, ports: list[PortMapping],
               forwards: tuple[LoopbackForward, ...] = ()) -> list[str]:
    """pasta forwards exactly the published ports and the loopback forwards (its default would
    forward every bound one); a UDP port keeps its host number, renumbered inside (rootless/udpports.py)."""
    from kubeplay.rootless.udpports import renumbered

    specs: dict[str, list[str]] = {"TCP": [], "UDP": []}
    for port in ports:
        if not port.host_port:
            continue
        protocol = (port.protocol or "TCP").upper()
        address = f"{port.host_ip}/" if port.host_ip and port.host_ip != "0.0.0.0" else ""
        inner = port.host_port if renumbered(protocol, port.host_port, port.container_port) else port.container_port
        specs[protocol].append(f"{address}{port.host_port}:{inner}")
    for forward in forwards:
        inner = forward.host_port if renumbered(forward.protocol, forward.host_port, forward.container_port) \
            else forward.container_port
        specs[forward.protocol].append(f"{LOOPBACK}/{forward.host_port}:{inner}")
    argv = [pasta, "--config-net", "--netns", str(netns), "--quiet", "--pid", str(pidfile)]
    for flag, protocol in (("-t", "TCP"), ("-u", "UDP")):
        for spec in specs[protocol] or ["none"]:
            argv += [flag, spec]
    return argv + ["-T", "none", "-U", "none"]


def slirp_argv(slirp: str, netns: Path, api_socket: Path, ready_fd: int, host_loopback: bool = False) -> list[str]:
    """slirp4netns keeps the host's loopback out of reach unless the pod needs it to reach the other
    pods' loopback forwards (a Service); its nft table then admits only Service traffic there."""
    loopback = [] if host_loopback else ["--disable-host-loopback"]
    return [slirp, "--configure", "--mtu=65520", *loopback, f"--ready-fd={ready_fd}",
            "--api-socket", str(api_socket), "--netns-type=path", str(netns), "tap0"]


def hostfwd_requests(ports: list[PortMapping], forwards: tuple[LoopbackForward, ...] = ()) -> list[dict]:
    """slirp4netns API requests that publish the ports and the loopback forwards."""
    requests = []
    for port in ports:
        if port.host_port:
            requests.append({"execute": "add_hostfwd", "arguments": {
                "proto": (port.protocol or "TCP").lower(), "host_addr": port.host_ip or "0.0.0.0",
                "host_port": port.host_port, "guest_addr": SLIRP_GUEST_IP, "guest_port": port.container_port}})
    for forward in forwards:
        requests.append({"execute": "add_hostfwd", "arguments": {
            "proto": forward.protocol.lower(), "host_addr": LOOPBACK, "host_port": forward.host_port,
            "guest_addr": SLIRP_GUEST_IP, "guest_port": forward.container_port}})
    return requests


def _create_netns(path: Path) -> None:
    """A new network namespace bound at `path`, loopback up."""
    unshare, ip = _which("unshare"), _which("ip")
    if unshare is None or ip is None:
        raise HostError("unshare or ip is missing", hint="apt-get install util-linux iproute2")
    prepare_mount_point(path)
    try:
        subprocess.run([unshare, f"--net={path}", ip, "link", "set", "lo", "up"], check=True,
                       capture_output=True, text=True, timeout=START_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.CalledProcessError as exc:
        _remove_netns(path)
        raise HostError(f"cannot create network namespace {path}: {exc.stderr.strip()}",
                        hint="`kubeplay system check` tells whether user namespaces work here") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        _remove_netns(path)
        raise HostError(f"cannot create network namespace {path}: {exc}", hint="retry; check the run root") from exc


def _remove_netns(path: Path) -> None:
    remove_namespace_file(path)


def _in_namespace(netns: Path, *argv: str) -> str:
    """The output of `ip ARGV` inside the namespace; "" when it cannot run."""
    nsenter, ip = _which("nsenter"), _which("ip")
    try:
        done = subprocess.run([nsenter, f"--net={netns}", ip, *argv],
                              capture_output=True, text=True, timeout=START_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, TypeError, subprocess.TimeoutExpired):
        return ""
    return done.stdout


def _namespace_ip(netns: Path) -> str:
    """The first global IPv4 address inside the namespace (pasta copies the host's)."""
    for line in _in_namespace(netns, "-4", "-o", "addr", "show", "scope", "global").splitlines():
        words = line.split()
        if "inet" in words:
            return words[words.index("inet") + 1].split("/")[0]
    return ""


def _namespace_gateway(netns: Path) -> str:
    """The IPv4 default gateway inside the namespace: pasta copies the host's and maps it to the
    host itself, so that connections to it reach the host's loopback."""
    for line in _in_namespace(netns, "-4", "route", "show", "default").splitlines():
        words = line.split()
        if "via" in words:
            return words[words.index("via") + 1]
    return ""


PASTA_ATTEMPTS = 3  # a loopback port chosen free may be taken before pasta binds it: choose again


def _start_pasta(path: str, netns: Path, pidfile: Path, ports: list[PortMapping],
                 declared: list[PortMapping]) -> tuple[str, Forwards]:
    for attempt in range(PASTA_ATTEMPTS):
        forwards = loopback_forwards(declared)
        try:
            done = subprocess.run(pasta_argv(path, netns, pidfile, ports, forwards), capture_output=True, text=True,
                                  timeout=START_TIMEOUT, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HostError(f"pasta did not start: {exc}", hint="check `kubeplay system check`") from exc
        if done.returncode == 0:
            break
        said = " ".join(line for line in done.stderr.splitlines() if "syslog" not in line).strip()
        if forwards and attempt + 1 < PASTA_ATTEMPTS and _helper_pid(pidfile) is None:
            continue
        raise HostError(f"pasta failed for {netns.name}: {said or f'exit {done.returncode}'}",
                        hint="a hostPort may be in use on the host; `kubeplay system check` shows what pasta needs")
    _renumber_udp(netns, ports, forwards)
    return _namespace_ip(netns), Forwards(_namespace_gateway(netns), forwards)


def _renumber_udp(netns: Path, ports: list[PortMapping], forwards: tuple[LoopbackForward, ...]) -> None:
    """The UDP ports pasta hands on under their host number go on to their container port."""
    from kubeplay.rootless.udpports import renumber_script, renumbered

    pairs = [(port.host_port, port.container_port) for port in ports
             if port.host_port and renumbered(port.protocol or "TCP", port.host_port, port.container_port)]
    pairs += [(forward.host_port, forward.container_port) for forward in forwards
              if renumbered(forward.protocol, forward.host_port, forward.container_port)]
    script = renumber_script(pairs)
    if script:
        load_nft(netns, script, f"renumbering the UDP ports of {netns.name}")


def _start_slirp(path: str, netns: Path, pidfile: Path, ports: list[PortMapping],
                 declared: list[PortMapping]) -> tuple[str, Forwards]:
    api = pidfile.with_suffix(".sock")
    ready_read, ready_write = os.pipe()
    log = open(pidfile.with_suffix(".log"), "wb")
    try:
        process = subprocess.Popen(slirp_argv(path, netns, api, ready_write, host_loopback=True),
                                   stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=log, pass_fds=(ready_write,), start_new_session=True)
    except OSError as exc:
        raise HostError(f"cannot run slirp4netns: {exc.strerror}", hint="reinstall slirp4netns") from exc
    finally:
        os.close(ready_write)
        log.close()
    pidfile.write_text(str(process.pid))
    try:
        import select

        ready, _, _ = select.select([ready_read], [], [], START_TIMEOUT)
        if not ready or os.read(ready_read, 1) != b"1":
            said = pidfile.with_suffix(".log").read_text(errors="replace").strip()
            raise HostError(f"slirp4netns did not come up for {netns.name}: {said or 'no answer'}",
                            hint="`kubeplay system check` shows what slirp4netns needs")
    finally:
        os.close(ready_read)
    forwards = loopback_forwards(declared)
    for request in hostfwd_requests(ports, forwards):
        _slirp_request(api, request)
    return SLIRP_GUEST_IP, Forwards(SLIRP_HOST_LOOPBACK, forwards)


def _slirp_request(api: Path, request: dict) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(START_TIMEOUT)
        try:
            client.connect(str(api))
            client.sendall(json.dumps(request).encode())
            client.shutdown(socket.SHUT_WR)
            answer = json.loads(client.recv(65536) or b"{}")
        except (OSError, ValueError) as exc:
            raise HostError(f"slirp4netns API {api}: {exc}", hint="retry; slirp4netns may have exited") from exc
    if "error" in answer:
        arguments = request["arguments"]
        raise UserError(f"cannot publish hostPort {arguments['host_port']}/{arguments['proto']}: "
                        f"{answer['error'].get('desc', answer['error'])}",
                        hint="the port may be in use on the host; choose another hostPort")


def setup(runroot: Path, pod_id: str, ports: list[PortMapping], connected: bool = True,
          declared: list[PortMapping] = (), node_ports: list[PortMapping] = ()) -> RootlessNet:
    """The pod's namespace and, unless `connected` is False (network "none"), its helper with the
    published `ports`, a loopback forward for each `declared` containerPort, and those of the
    `node_ports` (Services' node ports) that no other running pod publishes yet."""
    netns = netns_path(runroot, pod_id)
    if connected:
        name, path = choose_helper()  # before anything is made: a missing helper leaves nothing behind
        check_tun()
    _create_netns(netns)
    if not connected:
        return RootlessNet(netns, "", "")
    try:
        start = _start_pasta if name == "pasta" else _start_slirp
        # claimed once the namespace exists: a claim whose pod has no namespace counts as left over
        published = [port for port in node_ports if claim_node_port(runroot, pod_id, port.protocol, port.host_port)]
        ip, forwards = start(path, netns, helper_pidfile(runroot, pod_id), [*ports, *published], list(declared))
        if published:
            route_node_ports(netns)
        _write_forwards(runroot, pod_id, forwards)
    except BaseException:
        teardown(runroot, pod_id)
        raise
    return RootlessNet(netns, ip, name)


NODE_PORT_SYSCTLS = ("net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet")


def route_node_ports(netns: Path) -> None:
    """Let the namespace of a pod publishing node ports send them on (see pods/rootlessnodeports.py):
    forward what came in from the helper back out to it, and route what its loopback received."""
    nsenter, sh = _which("nsenter"), _which("sh")
    script = "; ".join(f"echo 1 > /proc/sys/{name}" for name in NODE_PORT_SYSCTLS)
    try:
        done = subprocess.run([nsenter, f"--net={netns}", sh, "-ec", script], capture_output=True, text=True,
                              timeout=START_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, TypeError, subprocess.TimeoutExpired) as exc:
        raise HostError(f"cannot set up the node ports of {netns.name}: {exc}",
                        hint="check that nsenter works (`kubeplay system check`)") from exc
    if done.returncode != 0:
        raise HostError(f"cannot set up the node ports of {netns.name}: {done.stderr.strip() or done.returncode}",
                        hint="the kernel must let a user namespace set its network namespace's sysctls")


def _helper_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return None
    return pid if comm in ("pasta", "passt", "pasta.avx2", "passt.avx2", "slirp4netns") else None


def teardown(runroot: Path, pod_id: str) -> None:
    """Stop the pod's helper and remove its namespace; safe on a half-made or already removed pod."""
    pidfile = helper_pidfile(runroot, pod_id)
    pid = _helper_pid(pidfile)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _helper_pid(pidfile) == pid and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # slirp4netns is our child when the same command tears down
            time.sleep(0.02)
        if _helper_pid(pidfile) == pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for leftover in (pidfile, pidfile.with_suffix(".sock"), pidfile.with_suffix(".log"),
                     forwards_file(runroot, pod_id)):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    _remove_netns(netns_path(runroot, pod_id))
    release_node_ports(runroot, pod_id)


def load_nft(netns: Path, script: str, doing: str) -> None:
    """Apply an nft script inside the pod's namespace, in one transaction. The namespace belongs to
    the user namespace this process is uid 0 of, so nft may change it."""
    nsenter, nft = _which("nsenter"), _which("nft")
    if nsenter is None or nft is None:
        raise HostError(f"{doing}: nsenter or nft is missing", hint="as root run `apt-get install util-linux nftables`")
    try:
        done = subprocess.run([nsenter, f"--net={netns}", nft, "-f", "-"], input=script, capture_output=True,
                              text=True, timeout=START_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HostError(f"{doing}: {exc}", hint="retry; check that nft works (`nft --version`)") from exc
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()
        raise HostError(f"{doing}: nft failed: {detail[0] if detail else f'exit {done.returncode}'}",
                        hint="the kernel must allow nftables in a user namespace (nf_tables module loaded)")
