"""A pod's TCP connection to a Service's cluster IP goes straight to an endpoint, chosen when it connects.

A small eBPF program on the cgroup that holds every pod (`/kubeplay` of the cgroup2 hierarchy) runs at
each connect(2) of a TCP socket: when the address is a Service port it holds, it rewrites it to one of
the ready endpoints, at random. The connection is then made to the pod's own address, and none of its
packets is translated afterwards: without this every packet of it would be DNATed on the bridge
(and, where the bridge is not tracked, masqueraded through the host as well). The server sees the
client's address, as on Kubernetes.

The nftables rules (net/services.py) stay the whole truth for everything else: UDP, node ports, a
Service with sessionAffinity, one without endpoints (refused there at once), connections from the
host and from rootless pods. This only moves the choice of TCP endpoints from the first packet to the
socket, for Services whose endpoints all fit in one map element.

No process stays behind to hold it: the kernel keeps the program while it is attached to the cgroup,
and the map while the program uses it. Later commands find both again through the cgroup. The cgroup
is removed with the last pod of any store (and with it the attachment); a cgroup with no pod can have
no client, and the next Service change attaches the program again.

Map element: key = cluster IP (4 bytes, network order) . port (u32 holding the port in network order,
as `struct bpf_sock_addr` has it); value = endpoint count (u32), padding, then up to MAX_ENDPOINTS of
(IP, port) in the same form.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
import struct
from collections.abc import Iterable
from pathlib import Path

from kubeplay.logs import get_logger
from kubeplay.net import bpf

log = get_logger(__name__)

PODS_CGROUP = "kubeplay"  # the parent of every root pod's cgroup (oci/cgroups.py), below the net layer
CONNECT_PROGRAM = "kubeplay_conn"
PEER_PROGRAM = "kubeplay_peer"
SERVICES_MAP = "kubeplay_svc"
PEERS_MAP = "kubeplay_peers"
MAX_ENDPOINTS = 64  # the program masks its random index with MAX_ENDPOINTS - 1: a power of two
MAX_SERVICE_PORTS = 4096
MAX_PEERS = 16384  # least recently used first out: a socket's entry is only read while it is open
KEY_SIZE = 8
VALUE_SIZE = 8 + 8 * MAX_ENDPOINTS
LICENSE = "kubeplay"  # neither program calls a GPL-only helper
TCP = 6

# struct bpf_sock_addr offsets
_USER_IP4 = 4
_USER_PORT = 24
_PROTOCOL = 36

# eBPF opcodes and helpers used below (linux/bpf.h)
_MOV64_REG, _MOV64_IMM, _LOAD_WORD, _STORE_WORD, _STORE_DWORD = 0xBF, 0xB7, 0x61, 0x63, 0x7B
_JUMP_NE_IMM, _JUMP_EQ_IMM, _LOAD_IMM64, _ADD64_IMM, _ADD64_REG = 0x55, 0x15, 0x18, 0x07, 0x0F
_CALL, _MOD32_REG, _AND64_IMM, _SHIFT_LEFT64_IMM, _EXIT = 0x85, 0x9C, 0x57, 0x67, 0x95
_MAP_LOOKUP_ELEM, _MAP_UPDATE_ELEM, _GET_PRANDOM_U32, _GET_SOCKET_COOKIE = 1, 2, 7, 46
_PSEUDO_MAP_FD = 1
_CTX, _ENTRY, _FRAME = 6, 7, 10


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def _load_map(register: int, map_fd: int) -> list[bytes]:
    return [_insn(_LOAD_IMM64, register, _PSEUDO_MAP_FD, imm=map_fd), _insn(0)]


def connect_program(services_fd: int, peers_fd: int) -> bytes:
    """cgroup/connect4: look the destination up; when found, put an endpoint chosen at random in its
    place, and remember the Service's address for the socket (by its cookie) for getpeername."""
    body = [
        _insn(_MOV64_REG, _CTX, 1),
        _insn(_LOAD_WORD, 2, _CTX, _PROTOCOL),
        _insn(_JUMP_NE_IMM, 2, off=33, imm=TCP),                      # not TCP: nft's
        _insn(_LOAD_WORD, 2, _CTX, _USER_IP4),
        _insn(_STORE_WORD, _FRAME, 2, -8),                            # the key: address . port
        _insn(_LOAD_WORD, 2, _CTX, _USER_PORT),
        _insn(_STORE_WORD, _FRAME, 2, -4),
        *_load_map(1, services_fd),
        _insn(_MOV64_REG, 2, _FRAME),
        _insn(_ADD64_IMM, 2, imm=-8),
        _insn(_CALL, imm=_MAP_LOOKUP_ELEM),
        _insn(_JUMP_EQ_IMM, 0, off=23, imm=0),                        # not a Service port held here
        _insn(_MOV64_REG, _ENTRY, 0),
        _insn(_CALL, imm=_GET_PRANDOM_U32),
        _insn(_LOAD_WORD, 1, _ENTRY, 0),
        _insn(_JUMP_EQ_IMM, 1, off=19, imm=0),                        # no endpoint: nft refuses it
        _insn(_MOD32_REG, 0, 1),
        _insn(_AND64_IMM, 0, imm=MAX_ENDPOINTS - 1),
        _insn(_SHIFT_LEFT64_IMM, 0, imm=3),
        _insn(_ADD64_REG, _ENTRY, 0),
        _insn(_LOAD_WORD, 1, _ENTRY, 8),
        _insn(_STORE_WORD, _CTX, 1, _USER_IP4),
        _insn(_LOAD_WORD, 1, _ENTRY, 12),
        _insn(_STORE_WORD, _CTX, 1, _USER_PORT),
        _insn(_MOV64_REG, 1, _CTX),
        _insn(_CALL, imm=_GET_SOCKET_COOKIE),
        _insn(_STORE_DWORD, _FRAME, 0, -16),
        *_load_map(1, peers_fd),
        _insn(_MOV64_REG, 2, _FRAME),
        _insn(_ADD64_IMM, 2, imm=-16),                                # cookie -> the Service's address
        _insn(_MOV64_REG, 3, _FRAME),
        _insn(_ADD64_IMM, 3, imm=-8),
        _insn(_MOV64_IMM, 4, imm=0),
        _insn(_CALL, imm=_MAP_UPDATE_ELEM),
        _insn(_MOV64_IMM, 0, imm=1),                                  # 1: the connect goes on
        _insn(_EXIT),
    ]
    return b"".join(body)


def peer_program(peers_fd: int) -> bytes:
    """cgroup/getpeername4: a socket connected through a Service names the Service's address as its
    peer, as it would through kube-proxy's translation."""
    body = [
        _insn(_MOV64_REG, _CTX, 1),
        _insn(_CALL, imm=_GET_SOCKET_COOKIE),
        _insn(_STORE_DWORD, _FRAME, 0, -8),
        *_load_map(1, peers_fd),
        _insn(_MOV64_REG, 2, _FRAME),
        _insn(_ADD64_IMM, 2, imm=-8),
        _insn(_CALL, imm=_MAP_LOOKUP_ELEM),
        _insn(_JUMP_EQ_IMM, 0, off=4, imm=0),
        _insn(_LOAD_WORD, 1, 0, 0),
        _insn(_STORE_WORD, _CTX, 1, _USER_IP4),
        _insn(_LOAD_WORD, 1, 0, 4),
        _insn(_STORE_WORD, _CTX, 1, _USER_PORT),
        _insn(_MOV64_IMM, 0, imm=1),
        _insn(_EXIT),
    ]
    return b"".join(body)


def _address(ip: str, port: int) -> bytes:
    return socket.inet_aton(ip) + struct.pack("=I", socket.htons(port))


def map_key(cluster_ip: str, port: int) -> bytes:
    return _address(cluster_ip, port)


def map_value(endpoints: Iterable[tuple[str, int]]) -> bytes:
    chosen = list(dict.fromkeys(endpoints))
    value = struct.pack("=II", len(chosen), 0) + b"".join(_address(ip, port) for ip, port in chosen)
    return value.ljust(VALUE_SIZE, b"\0")


@functools.cache
def pods_cgroup() -> Path | None:
    """`/kubeplay` of the cgroup2 hierarchy (the whole tree on a v2 host, the `unified` mount on a
    hybrid one); None when the host has no cgroup2 mount."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        before, separator, after = line.partition(" - ")
        if separator and after.split()[:1] == ["cgroup2"]:
            return Path(before.split()[4]) / PODS_CGROUP
    return None


class ConnectHook:
    """The attached programs and the Service map, found on the pods' cgroup or made and attached there."""

    def __init__(self, cgroup_fd: int, programs: dict[int, int], services_fd: int) -> None:
        self.cgroup_fd = cgroup_fd
        self.programs = programs  # attach type -> program fd
        self.services_fd = services_fd

    def close(self) -> None:
        for fd in (self.services_fd, *self.programs.values(), self.cgroup_fd):
            os.close(fd)


_HOOKS = ((bpf.CGROUP_INET4_CONNECT, CONNECT_PROGRAM), (bpf.CGROUP_INET4_GETPEERNAME, PEER_PROGRAM))


def _open_cgroup(create: bool) -> int | None:
    directory = pods_cgroup()
    if directory is None:
        return None
    if create:
        directory.mkdir(exist_ok=True)  # the runtime makes it with the first pod; a Service may come first
    try:
        return os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return None


def _attached(cgroup_fd: int, attach_type: int, name: str) -> int | None:
    """The fd of kubeplay's program `name` on the cgroup, when it is there."""
    for program_id in bpf.attached_program_ids(cgroup_fd, attach_type):
        try:
            fd = bpf.program_fd(program_id)
        except bpf.BpfError:
            continue  # gone between the listing and now
        if bpf.program_name_and_maps(fd)[0] == name:
            return fd
        os.close(fd)
    return None


def _services_map(connect_fd: int) -> int:
    for map_id in bpf.program_name_and_maps(connect_fd)[1]:
        fd = bpf.map_fd(map_id)
        if bpf.map_name(fd) == SERVICES_MAP:
            return fd
        os.close(fd)
    raise bpf.BpfError(2, f"finding the map of {CONNECT_PROGRAM}")


def _found(cgroup_fd: int) -> ConnectHook | None:
    programs = {}
    for attach_type, name in _HOOKS:
        fd = _attached(cgroup_fd, attach_type, name)
        if fd is not None:
            programs[attach_type] = fd
    if bpf.CGROUP_INET4_CONNECT not in programs:
        for fd in programs.values():
            os.close(fd)
        return None
    return ConnectHook(cgroup_fd, programs, _services_map(programs[bpf.CGROUP_INET4_CONNECT]))


def _made(cgroup_fd: int) -> ConnectHook:
    """Both programs loaded and attached: getpeername's first, so no socket is connected through a
    Service before its peer can be named."""
    maps: list[int] = []
    programs: dict[int, int] = {}
    try:
        # elements made as Services come (a full map would hold memory for every port it could have)
        services_fd = bpf.create_map(bpf.MAP_TYPE_HASH, SERVICES_MAP, KEY_SIZE, VALUE_SIZE, MAX_SERVICE_PORTS,
                                     bpf.F_NO_PREALLOC)
        maps.append(services_fd)
        peers_fd = bpf.create_map(bpf.MAP_TYPE_LRU_HASH, PEERS_MAP, 8, KEY_SIZE, MAX_PEERS)
        maps.append(peers_fd)
        codes = {bpf.CGROUP_INET4_GETPEERNAME: peer_program(peers_fd),
                 bpf.CGROUP_INET4_CONNECT: connect_program(services_fd, peers_fd)}
        for attach_type, name in reversed(_HOOKS):
            fd = bpf.load_program(name, codes[attach_type], LICENSE, bpf.PROG_TYPE_CGROUP_SOCK_ADDR, attach_type)
            try:
                bpf.attach(cgroup_fd, fd, attach_type)
            except BaseException:
                os.close(fd)
                raise
            programs[attach_type] = fd
    except BaseException:
        for attach_type, fd in programs.items():
            bpf.detach(cgroup_fd, fd, attach_type)
            os.close(fd)
        for fd in maps:
            os.close(fd)
        raise
    os.close(peers_fd)  # the programs hold it
    return ConnectHook(cgroup_fd, programs, services_fd)


def open_hook(create: bool) -> ConnectHook | None:
    """The hook on the pods' cgroup; made and attached when `create` and it is not there. None when
    it is not there (and not made), or where the kernel cannot have it."""
    if not bpf.available():
        return None
    cgroup_fd = _open_cgroup(create)
    if cgroup_fd is None:
        return None
    try:
        found = _found(cgroup_fd)
        if found is not None:
            return found
        if create:
            return _made(cgroup_fd)
    except BaseException:
        os.close(cgroup_fd)
        raise
    os.close(cgroup_fd)
    return None


def problem() -> str | None:
    """Why the hook cannot be had on this host, or None: both programs are loaded (with maps of
    their own) and dropped again, so the kernel's verifier has its say; nothing is attached."""
    if not bpf.available():
        return "no bpf system call number is known for this architecture"
    if pods_cgroup() is None:
        return "no cgroup2 hierarchy is mounted"
    return load_problem()


def load_problem() -> str | None:
    """What the kernel says against loading the programs, or None."""
    opened: list[int] = []
    try:
        services_fd = bpf.create_map(bpf.MAP_TYPE_HASH, SERVICES_MAP, KEY_SIZE, VALUE_SIZE, 1)
        opened.append(services_fd)
        peers_fd = bpf.create_map(bpf.MAP_TYPE_LRU_HASH, PEERS_MAP, 8, KEY_SIZE, 1)
        opened.append(peers_fd)
        opened.append(bpf.load_program(CONNECT_PROGRAM, connect_program(services_fd, peers_fd), LICENSE,
                                       bpf.PROG_TYPE_CGROUP_SOCK_ADDR, bpf.CGROUP_INET4_CONNECT))
        opened.append(bpf.load_program(PEER_PROGRAM, peer_program(peers_fd), LICENSE,
                                       bpf.PROG_TYPE_CGROUP_SOCK_ADDR, bpf.CGROUP_INET4_GETPEERNAME))
    except bpf.BpfError as exc:
        return f"the kernel refuses it ({exc.strerror})"
    finally:
        for fd in opened:
            os.close(fd)
    return None


def write_entries(removed: Iterable[tuple[str, int]], wanted: dict[tuple[str, int], tuple[tuple[str, int], ...]]) -> bool:
    """Drop the `removed` (cluster IP, port) entries, then hold `wanted`'s; the caller holds the network
    lock. False when the hook cannot be had here: the nft rules then carry these connections alone."""
    usable = {key: endpoints for key, endpoints in wanted.items() if 0 < len(set(endpoints)) <= MAX_ENDPOINTS}
    try:
        hook = open_hook(create=bool(usable))
    except (bpf.BpfError, OSError) as exc:
        log.debug("no connect hook for Services: %s%s", exc, f"\n{exc.log}" if getattr(exc, "log", "") else "")
        return False
    if hook is None:
        return False
    try:
        for ip, port in [*removed, *(wanted.keys() - usable.keys())]:
            if (ip, port) not in usable:
                bpf.delete(hook.services_fd, map_key(ip, port))
        for (ip, port), endpoints in usable.items():
            try:
                bpf.update(hook.services_fd, map_key(ip, port), map_value(endpoints))
            except bpf.BpfError as exc:  # a full map: this port's connections stay with nft
                log.warning("Service port %s:%s is left to the nftables rules: %s", ip, port, exc)
                bpf.delete(hook.services_fd, map_key(ip, port))
    finally:
        hook.close()
    return True


def remove_hook() -> bool:
    """Detach the program (the map goes with it); True when it was there."""
    try:
        hook = open_hook(create=False)
    except (bpf.BpfError, OSError):
        return False
    if hook is None:
        return False
    try:
        for attach_type, fd in hook.programs.items():
            bpf.detach(hook.cgroup_fd, fd, attach_type)
    finally:
        hook.close()
    return True


def entries() -> dict[str, list[str]]:
    """What the map holds, as text: `IP:PORT` -> [`IP:PORT`, ...] (for `system check` and tests)."""
    hook = open_hook(create=False)
    if hook is None:
        return {}
    try:
        shown = {}
        for key in bpf.keys(hook.services_fd, KEY_SIZE):
            value = bpf.lookup(hook.services_fd, key, VALUE_SIZE)
            count = struct.unpack_from("=I", value)[0]
            shown[text_of(key)] = [text_of(value[8 + 8 * i:16 + 8 * i]) for i in range(min(count, MAX_ENDPOINTS))]
        return shown
    finally:
        hook.close()


def text_of(address: bytes) -> str:
    return f"{ipaddress.IPv4Address(address[:4])}:{socket.ntohs(struct.unpack('=I', address[4:8])[0])}"
