"""A pod's TCP connection to a Service's cluster IP goes straight to an endpoint, chosen when it connects.

Small eBPF programs sit on the cgroup that holds every root pod (`/kubeplay` of the cgroup2
hierarchy). At each connect(2) of a TCP socket to a Service port this hook holds, a connect program
rewrites the address to one of the ready endpoints, at random, and remembers the Service's address
for the socket; a getpeername program gives that address back to getpeername(2), as kube-proxy's
translation would. The connection is then made to the pod's own address, and none of its packets is
translated afterwards: without this every packet of it is DNATed on the bridge (and, where the bridge
is not tracked, masqueraded through the host as well). The server sees the client's address.

The nftables rules (net/services.py) stay the whole truth for everything else: UDP, node ports, a
Service with sessionAffinity or with more endpoints than an entry holds, one without endpoints
(refused there at once), connections from the host and from rootless pods. An IPv6 socket
connecting to a cluster IP's IPv4-mapped address (::ffff:A.B.C.D, as Java's sockets do) gets the
same treatment through the IPv6 hooks. The hook only moves the choice of TCP endpoints from the first
packet to the socket. `write_services` keeps it in step with the rules, under the same lock: what the
rules no longer hold is dropped from it, and a hook that cannot be written is taken off.

No process stays behind to hold it: the kernel keeps the programs while they are attached to the
cgroup, and the maps while the programs use them. Later commands find them again through the cgroup.
The cgroup is removed with the last pod of any store, and the hook with it; with no pod there is no
endpoint, and the next Service change attaches the hook again.

Service map: key = cluster IP (4 bytes, network order) . port (u32 holding the port in network
order, as `struct bpf_sock_addr` has it); value = endpoint count (u32), padding, then up to
MAX_ENDPOINTS of (IP, port) in the same form. Peer map (least recently used first out): socket
cookie -> (Service address, endpoint address); getpeername names the Service only while the socket's
peer is still that endpoint.
"""

from __future__ import annotations

import contextlib
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
# the names carry the layout's version (the digit): a hook of another layout is taken off, not written into
CONNECT4_PROGRAM = "kubeplay1_conn4"
CONNECT6_PROGRAM = "kubeplay1_conn6"
PEER4_PROGRAM = "kubeplay1_peer4"
PEER6_PROGRAM = "kubeplay1_peer6"
SERVICES_MAP = "kubeplay1_svc"
PEERS_MAP = "kubeplay1_peers"
MAX_ENDPOINTS = 64  # the program masks its random index with MAX_ENDPOINTS - 1: a power of two
MAX_SERVICE_PORTS = 4096
MAX_PEERS = 16384  # a socket's entry is only read while it is open
ADDRESS_SIZE = 8
VALUE_SIZE = 8 + ADDRESS_SIZE * MAX_ENDPOINTS
PEER_SIZE = 2 * ADDRESS_SIZE
COOKIE_SIZE = 8
LICENSE = "kubeplay"  # no program calls a GPL-only helper
TCP = 6

# struct bpf_sock_addr offsets: an IPv4 socket's address is user_ip4; an IPv6 socket's is user_ip6,
# whose last word is the IPv4 address when the first three are ::ffff: (IPv4-mapped)
_USER_IP4 = 4
_USER_IP6 = 8
_USER_PORT = 24
_PROTOCOL = 36
_MAPPED_PREFIX = (0, 0, -0x10000)  # 0, 0, 0x0000ffff in network order read as a little-endian word

# eBPF opcodes and helpers used below (linux/bpf.h)
_MOV64_REG, _MOV64_IMM, _MOV32_IMM, _LOAD_WORD, _STORE_WORD, _STORE_DWORD = 0xBF, 0xB7, 0xB4, 0x61, 0x63, 0x7B
_JUMP_NE_IMM, _JUMP_EQ_IMM, _JUMP_NE_REG, _LOAD_IMM64 = 0x55, 0x15, 0x5D, 0x18
_ADD64_IMM, _ADD64_REG, _CALL, _MOD32_REG, _AND64_IMM, _SHIFT_LEFT64_IMM, _EXIT = 0x07, 0x0F, 0x85, 0x9C, 0x57, 0x67, 0x95
_MAP_LOOKUP_ELEM, _MAP_UPDATE_ELEM, _GET_PRANDOM_U32, _GET_SOCKET_COOKIE = 1, 2, 7, 46
_PSEUDO_MAP_FD = 1
_CTX, _ENTRY, _FRAME = 6, 7, 10

# the connect programs' stack: the looked-up key, then the peer entry they store, then the cookie
_KEY = -8
_PEER = -24  # Service address (copied from the key), then the endpoint's
_COOKIE = -32


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


class _ToReturn:
    """A jump to the program's closing `return 1`, whose offset is known once the program is whole."""

    def __init__(self, code: int, dst: int, src: int = 0, imm: int = 0) -> None:
        self.code, self.dst, self.src, self.imm = code, dst, src, imm


def _assemble(body: list) -> bytes:
    """The instructions, then `return 1`; every _ToReturn jumps there."""
    body = [*body, _insn(_MOV64_IMM, 0, imm=1), _insn(_EXIT)]
    closing = len(body) - 2
    return b"".join(_insn(item.code, item.dst, item.src, closing - index - 1, item.imm)
                    if isinstance(item, _ToReturn) else item for index, item in enumerate(body))


def _load_map(register: int, map_fd: int) -> list[bytes]:
    return [_insn(_LOAD_IMM64, register, _PSEUDO_MAP_FD, imm=map_fd), _insn(0)]


def _stack_pointer(register: int, offset: int) -> list[bytes]:
    return [_insn(_MOV64_REG, register, _FRAME), _insn(_ADD64_IMM, register, imm=offset)]


def _address_word(family: int) -> tuple[list, int]:
    """The offset of the socket address's IPv4 word, after the checks that it has one (for an
    IPv6 socket: an IPv4-mapped address; anything else returns at once)."""
    if family == 4:
        return [], _USER_IP4
    checks: list = []
    for index, word in enumerate(_MAPPED_PREFIX):
        checks += [_insn(_LOAD_WORD, 2, _CTX, _USER_IP6 + 4 * index), _insn(_MOV32_IMM, 3, imm=word),
                   _ToReturn(_JUMP_NE_REG, 2, 3)]
    return checks, _USER_IP6 + 12


def connect_program(services_fd: int, peers_fd: int, family: int = 4) -> bytes:
    """cgroup/connect4 (or connect6, for IPv4-mapped addresses): look the destination up; when
    found, put an endpoint chosen at random in its place, and remember both addresses for the
    socket (by its cookie) for getpeername."""
    checks, address = _address_word(family)
    return _assemble([
        _insn(_MOV64_REG, _CTX, 1),
        _insn(_LOAD_WORD, 2, _CTX, _PROTOCOL),
        _ToReturn(_JUMP_NE_IMM, 2, imm=TCP),                          # not TCP: nft's
        *checks,
        _insn(_LOAD_WORD, 2, _CTX, address),
        _insn(_STORE_WORD, _FRAME, 2, _KEY),
        _insn(_STORE_WORD, _FRAME, 2, _PEER),
        _insn(_LOAD_WORD, 2, _CTX, _USER_PORT),
        _insn(_STORE_WORD, _FRAME, 2, _KEY + 4),
        _insn(_STORE_WORD, _FRAME, 2, _PEER + 4),
        *_load_map(1, services_fd),
        *_stack_pointer(2, _KEY),
        _insn(_CALL, imm=_MAP_LOOKUP_ELEM),
        _ToReturn(_JUMP_EQ_IMM, 0, imm=0),                            # not a Service port held here
        _insn(_MOV64_REG, _ENTRY, 0),
        _insn(_CALL, imm=_GET_PRANDOM_U32),
        _insn(_LOAD_WORD, 1, _ENTRY, 0),
        _ToReturn(_JUMP_EQ_IMM, 1, imm=0),                            # no endpoint: nft refuses it
        _insn(_MOD32_REG, 0, 1),
        _insn(_AND64_IMM, 0, imm=MAX_ENDPOINTS - 1),
        _insn(_SHIFT_LEFT64_IMM, 0, imm=3),
        _insn(_ADD64_REG, _ENTRY, 0),
        _insn(_LOAD_WORD, 1, _ENTRY, 8),
        _insn(_STORE_WORD, _CTX, 1, address),
        _insn(_STORE_WORD, _FRAME, 1, _PEER + 8),
        _insn(_LOAD_WORD, 1, _ENTRY, 12),
        _insn(_STORE_WORD, _CTX, 1, _USER_PORT),
        _insn(_STORE_WORD, _FRAME, 1, _PEER + 12),
        _insn(_MOV64_REG, 1, _CTX),
        _insn(_CALL, imm=_GET_SOCKET_COOKIE),
        _insn(_STORE_DWORD, _FRAME, 0, _COOKIE),
        *_load_map(1, peers_fd),
        *_stack_pointer(2, _COOKIE),
        *_stack_pointer(3, _PEER),
        _insn(_MOV64_IMM, 4, imm=0),
        _insn(_CALL, imm=_MAP_UPDATE_ELEM),
    ])


def peer_program(peers_fd: int, family: int = 4) -> bytes:
    """cgroup/getpeername4 (or 6): a socket connected through a Service names the Service's address
    as its peer, while its peer is the endpoint the connect program chose. getpeername programs
    must return 1."""
    checks, address = _address_word(family)
    return _assemble([
        _insn(_MOV64_REG, _CTX, 1),
        *checks,
        _insn(_MOV64_REG, 1, _CTX),
        _insn(_CALL, imm=_GET_SOCKET_COOKIE),
        _insn(_STORE_DWORD, _FRAME, 0, -8),
        *_load_map(1, peers_fd),
        *_stack_pointer(2, -8),
        _insn(_CALL, imm=_MAP_LOOKUP_ELEM),
        _ToReturn(_JUMP_EQ_IMM, 0, imm=0),                            # not connected through a Service
        _insn(_LOAD_WORD, 1, _CTX, address),
        _insn(_LOAD_WORD, 2, 0, 8),
        _ToReturn(_JUMP_NE_REG, 1, 2),                                # connected elsewhere since
        _insn(_LOAD_WORD, 1, _CTX, _USER_PORT),
        _insn(_LOAD_WORD, 2, 0, 12),
        _ToReturn(_JUMP_NE_REG, 1, 2),
        _insn(_LOAD_WORD, 1, 0, 0),
        _insn(_STORE_WORD, _CTX, 1, address),
        _insn(_LOAD_WORD, 1, 0, 4),
        _insn(_STORE_WORD, _CTX, 1, _USER_PORT),
    ])


def _address(ip: str, port: int) -> bytes:
    return socket.inet_aton(ip) + struct.pack("=I", socket.htons(port))


def map_key(cluster_ip: str, port: int) -> bytes:
    return _address(cluster_ip, port)


def map_value(endpoints: Iterable[tuple[str, int]]) -> bytes:
    chosen = list(dict.fromkeys(endpoints))
    value = struct.pack("=II", len(chosen), 0) + b"".join(_address(ip, port) for ip, port in chosen)
    return value.ljust(VALUE_SIZE, b"\0")


def text_of(address: bytes) -> str:
    return f"{ipaddress.IPv4Address(address[:4])}:{socket.ntohs(struct.unpack('=I', address[4:8])[0])}"


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
        fields = before.split()
        if separator and after.split()[:1] == ["cgroup2"] and len(fields) > 4 and fields[3] == "/":
            # mountinfo writes a space, tab, newline or backslash of a path as an octal escape
            return Path(fields[4].encode().decode("unicode_escape")) / PODS_CGROUP
    return None


class ConnectHook:
    """The attached programs (attach type -> fd) and the Service map's fd, on the pods' cgroup."""

    def __init__(self, cgroup_fd: int, programs: dict[int, int], services_fd: int) -> None:
        self.cgroup_fd = cgroup_fd
        self.programs = programs
        self.services_fd = services_fd

    def close(self) -> None:
        for fd in (self.services_fd, *self.programs.values(), self.cgroup_fd):
            os.close(fd)


# attach type -> program name, and which program it is: (connects, family); the getpeername ones
# are attached first, so no socket is connected through a Service before its peer can be named
_HOOKS = {bpf.CGROUP_INET4_GETPEERNAME: (PEER4_PROGRAM, False, 4), bpf.CGROUP_INET6_GETPEERNAME: (PEER6_PROGRAM, False, 6),
          bpf.CGROUP_INET4_CONNECT: (CONNECT4_PROGRAM, True, 4), bpf.CGROUP_INET6_CONNECT: (CONNECT6_PROGRAM, True, 6)}


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


def _kubeplay_programs(cgroup_fd: int) -> list[tuple[int, str, int]]:
    """(attach type, name, fd) of every program of kubeplay's (of any layout) on the cgroup."""
    found: list[tuple[int, str, int]] = []
    try:
        for attach_type in _HOOKS:
            for program_id in bpf.attached_program_ids(cgroup_fd, attach_type):
                try:
                    fd = bpf.program_fd(program_id)
                except bpf.BpfError:
                    continue  # gone between the listing and now
                try:
                    name = bpf.program_info(fd).name
                except BaseException:
                    os.close(fd)
                    raise
                if name.startswith("kubeplay"):
                    found.append((attach_type, name, fd))
                else:
                    os.close(fd)
    except BaseException:
        for _, _, fd in found:
            os.close(fd)
        raise
    return found


def _hook_of(cgroup_fd: int, programs: list[tuple[int, str, int]]) -> ConnectHook | None:
    """The hook these programs make when they are exactly this layout's, the connect ones sharing one
    Service map and all one peer map (with descriptors of its own: the caller keeps those of
    `programs`)."""
    by_type = {attach_type: fd for attach_type, name, fd in programs if _HOOKS.get(attach_type, ("",))[0] == name}
    if len(programs) != len(_HOOKS) or len(by_type) != len(_HOOKS):
        return None
    uses = {attach_type: frozenset(bpf.program_info(fd).map_ids) for attach_type, fd in by_type.items()}
    peers = {maps for attach_type, maps in uses.items() if not _HOOKS[attach_type][1]}
    both = {maps for attach_type, maps in uses.items() if _HOOKS[attach_type][1]}
    if len(peers) != 1 or len(both) != 1:
        return None
    (peer_maps,), (connect_maps,) = peers, both
    if len(peer_maps) != 1 or len(connect_maps) != 2 or not peer_maps < connect_maps:
        return None
    services_fd = bpf.map_fd(next(iter(connect_maps - peer_maps)))
    try:
        info = bpf.map_info(services_fd)
        if (info.name, info.key_size, info.value_size) != (SERVICES_MAP, ADDRESS_SIZE, VALUE_SIZE):
            os.close(services_fd)
            return None
        owned = {attach_type: os.dup(fd) for attach_type, fd in by_type.items()}
    except BaseException:
        os.close(services_fd)
        raise
    return ConnectHook(cgroup_fd, owned, services_fd)


def _detach_all(cgroup_fd: int, programs: list[tuple[int, str, int]]) -> None:
    for attach_type, name, fd in programs:
        try:
            bpf.detach(cgroup_fd, fd, attach_type)
        except bpf.BpfError as exc:
            log.warning("cannot detach bpf program %s from %s: %s", name, pods_cgroup(), exc)


def _programs(services_fd: int, peers_fd: int) -> dict[int, bytes]:
    return {attach_type: connect_program(services_fd, peers_fd, family) if connects else peer_program(peers_fd, family)
            for attach_type, (_, connects, family) in _HOOKS.items()}


def _create_maps(opened: contextlib.ExitStack) -> tuple[int, int]:
    """The Service map and the peer map, each closed when `opened` unwinds."""
    services_fd = bpf.create_map(bpf.MAP_TYPE_HASH, SERVICES_MAP, ADDRESS_SIZE, VALUE_SIZE, MAX_SERVICE_PORTS,
                                 bpf.F_NO_PREALLOC)  # elements made as Services come
    opened.callback(os.close, services_fd)
    peers_fd = bpf.create_map(bpf.MAP_TYPE_LRU_HASH, PEERS_MAP, COOKIE_SIZE, PEER_SIZE, MAX_PEERS)
    opened.callback(os.close, peers_fd)
    return services_fd, peers_fd


def _made(cgroup_fd: int) -> ConnectHook:
    """Every program loaded and attached, in _HOOKS's order."""
    programs: dict[int, int] = {}
    with contextlib.ExitStack() as on_error:
        services_fd, peers_fd = _create_maps(on_error)
        for attach_type, code in _programs(services_fd, peers_fd).items():
            name = _HOOKS[attach_type][0]
            fd = bpf.load_program(name, code, LICENSE, bpf.PROG_TYPE_CGROUP_SOCK_ADDR, attach_type)
            on_error.callback(os.close, fd)
            bpf.attach(cgroup_fd, fd, attach_type)
            on_error.callback(_detach_all, cgroup_fd, [(attach_type, name, fd)])
            programs[attach_type] = fd
        on_error.pop_all()
    os.close(peers_fd)  # the programs hold it
    return ConnectHook(cgroup_fd, programs, services_fd)


def open_hook(create: bool) -> ConnectHook | None:
    """The hook on the pods' cgroup; made and attached when `create` and it is not there (a hook of
    another layout, or half of one, is taken off first). None when it is not there and not made, or
    where the kernel cannot have it."""
    if not bpf.available():
        return None
    cgroup_fd = _open_cgroup(create)
    if cgroup_fd is None:
        return None
    hook = None
    try:
        programs = _kubeplay_programs(cgroup_fd)
        try:
            hook = _hook_of(cgroup_fd, programs)
            if hook is None and create:
                _detach_all(cgroup_fd, programs)
                hook = _made(cgroup_fd)
        finally:
            for _, _, fd in programs:
                os.close(fd)
    finally:
        if hook is None:
            os.close(cgroup_fd)
    return hook


def write_entries(held: set[tuple[str, int]], wanted: dict[tuple[str, int], tuple[tuple[str, int], ...]]) -> None:
    """Make the hook hold `wanted` (cluster IP, port) -> endpoints, and nothing that is not in `held`
    (every TCP cluster IP port the rules hold now); the caller holds the network lock. Where the hook
    cannot be had, the rules carry these connections; where it cannot be written, it is taken off,
    so the rules carry them all."""
    usable = {key: endpoints for key, endpoints in wanted.items() if 0 < len(set(endpoints)) <= MAX_ENDPOINTS}
    try:
        hook = open_hook(create=bool(usable))
    except OSError as exc:
        log.warning("Service connections are left to the nftables rules: the pods' connect hook cannot be had: %s%s",
                    exc, f"\n{exc.log}" if isinstance(exc, bpf.BpfError) and exc.log else "")
        return
    if hook is None:
        return
    # kept: what is written now, and what the rules hold of Services this change does not touch
    kept = {map_key(ip, port) for ip, port in usable.keys() | (held - wanted.keys())}
    try:
        for key in bpf.keys(hook.services_fd, ADDRESS_SIZE):
            if key not in kept:
                bpf.delete(hook.services_fd, key)
        for (ip, port), endpoints in usable.items():
            bpf.update(hook.services_fd, map_key(ip, port), map_value(endpoints))
    except OSError as exc:
        log.warning("the pods' connect hook is taken off, Service connections are left to the nftables rules: %s", exc)
        _detach_all(hook.cgroup_fd, [(attach_type, "", fd) for attach_type, fd in hook.programs.items()])
    finally:
        hook.close()


def remove_hook() -> bool:
    """Detach the programs (the maps go with them); True when they were there."""
    if not bpf.available():
        return False
    cgroup_fd = _open_cgroup(create=False)
    if cgroup_fd is None:
        return False
    try:
        programs = _kubeplay_programs(cgroup_fd)
        _detach_all(cgroup_fd, programs)
        for _, _, fd in programs:
            os.close(fd)
        return bool(programs)
    finally:
        os.close(cgroup_fd)


def problem() -> str | None:
    """Why the hook cannot be had on this host, or None: the programs are loaded (with maps of
    the real sizes) and dropped again, so the kernel and its verifier have their say; nothing is
    attached."""
    if not bpf.available():
        return "bpf is not used on this architecture (kubeplay's programs are for 64-bit little-endian hosts)"
    if pods_cgroup() is None:
        return "no cgroup2 hierarchy is mounted"
    return load_problem()


def load_problem() -> str | None:
    """What the kernel says against loading the programs, or None."""
    with contextlib.ExitStack() as opened:
        try:
            services_fd, peers_fd = _create_maps(opened)
            for attach_type, code in _programs(services_fd, peers_fd).items():
                opened.callback(os.close, bpf.load_program("kubeplay_check", code, LICENSE,
                                                           bpf.PROG_TYPE_CGROUP_SOCK_ADDR, attach_type))
        except bpf.BpfError as exc:
            return f"the kernel refuses it ({exc.strerror})"
    return None


def entries() -> dict[str, list[str]]:
    """What the Service map holds, as text: `IP:PORT` -> [`IP:PORT`, ...] (for tests and debugging)."""
    hook = open_hook(create=False)
    if hook is None:
        return {}
    try:
        shown = {}
        for key in bpf.keys(hook.services_fd, ADDRESS_SIZE):
            try:
                value = bpf.lookup(hook.services_fd, key, VALUE_SIZE)
            except bpf.BpfError:
                continue  # removed since the listing
            count = min(struct.unpack_from("=I", value)[0], MAX_ENDPOINTS)
            shown[text_of(key)] = [text_of(value[8 + ADDRESS_SIZE * i:16 + ADDRESS_SIZE * i]) for i in range(count)]
        return shown
    finally:
        hook.close()
