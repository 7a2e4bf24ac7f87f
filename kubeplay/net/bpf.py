"""The bpf(2) system call, for the few commands the Service connect hook needs (see net/socketlb.py).

Each command's argument is the kernel's `union bpf_attr`, laid out here with struct: only the fields a
command reads are filled, the rest of the union stays zero, as the kernel requires. Objects are found
again by id through the cgroup they are attached to, so nothing needs pinning in a bpf filesystem.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys
from typing import NamedTuple

from kubeplay.libc import libc

# __NR_bpf of the 64-bit little-endian architectures: the generic table (arm64, riscv64, loongarch) has 280
_SYSCALL_NUMBERS = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "loongarch64": 280, "ppc64le": 361}

MAP_CREATE = 0
MAP_LOOKUP_ELEM = 1
MAP_UPDATE_ELEM = 2
MAP_DELETE_ELEM = 3
MAP_GET_NEXT_KEY = 4
PROG_LOAD = 5
PROG_ATTACH = 8
PROG_DETACH = 9
PROG_GET_FD_BY_ID = 13
MAP_GET_FD_BY_ID = 14
OBJ_GET_INFO_BY_FD = 15
PROG_QUERY = 16

MAP_TYPE_HASH = 1
MAP_TYPE_LRU_HASH = 9
PROG_TYPE_CGROUP_SOCK_ADDR = 18
CGROUP_INET4_CONNECT = 10
CGROUP_INET6_CONNECT = 11
CGROUP_INET4_GETPEERNAME = 29
CGROUP_INET6_GETPEERNAME = 30
F_ALLOW_MULTI = 2
F_NO_PREALLOC = 1
ATTR_SIZE = 128
LOG_SIZE = 1 << 16
PROG_INFO_SIZE = 80  # struct bpf_prog_info up to and including `name`: the fields read here
MAP_INFO_SIZE = 40  # struct bpf_map_info likewise


class BpfError(OSError):
    """A bpf(2) command failed; `log` holds the verifier's words for a refused program."""

    def __init__(self, code: int, doing: str, log: str = "") -> None:
        super().__init__(code, f"{doing}: {os.strerror(code)}")
        self.log = log


def _syscall_number() -> int | None:
    """__NR_bpf for this process: a 64-bit little-endian one (the programs are encoded little-endian,
    and a 32-bit process on a 64-bit kernel would need the 32-bit table)."""
    if sys.byteorder != "little" or ctypes.sizeof(ctypes.c_void_p) != 8:
        return None
    return _SYSCALL_NUMBERS.get(platform.machine())


def available() -> bool:
    return _syscall_number() is not None


def call(command: int, attr: ctypes.Array, doing: str) -> int:
    number = _syscall_number()
    if number is None:
        raise BpfError(38, doing)  # ENOSYS: not for this architecture
    result = libc().syscall(number, command, attr, len(attr))
    if result < 0:
        raise BpfError(ctypes.get_errno(), doing)
    return result


def _attr(layout: str, *values) -> ctypes.Array:
    buffer = ctypes.create_string_buffer(ATTR_SIZE)
    struct.pack_into(layout, buffer, 0, *values)
    return buffer


def create_map(map_type: int, name: str, key_size: int, value_size: int, max_entries: int, flags: int = 0) -> int:
    attr = _attr("=IIIIIII16s", map_type, key_size, value_size, max_entries, flags, 0, 0, name.encode()[:15])
    return call(MAP_CREATE, attr, "creating a bpf map")


def update(map_fd: int, key: bytes, value: bytes) -> None:
    key_buffer, value_buffer = ctypes.create_string_buffer(key), ctypes.create_string_buffer(value)
    attr = _attr("=IIQQQ", map_fd, 0, ctypes.addressof(key_buffer), ctypes.addressof(value_buffer), 0)
    call(MAP_UPDATE_ELEM, attr, "writing a bpf map element")


def lookup(map_fd: int, key: bytes, value_size: int) -> bytes:
    key_buffer, value_buffer = ctypes.create_string_buffer(key), ctypes.create_string_buffer(value_size)
    attr = _attr("=IIQQ", map_fd, 0, ctypes.addressof(key_buffer), ctypes.addressof(value_buffer))
    call(MAP_LOOKUP_ELEM, attr, "reading a bpf map element")
    return value_buffer.raw


def delete(map_fd: int, key: bytes) -> bool:
    """Remove an element; False when it was not there."""
    key_buffer = ctypes.create_string_buffer(key)
    try:
        call(MAP_DELETE_ELEM, _attr("=IIQ", map_fd, 0, ctypes.addressof(key_buffer)), "removing a bpf map element")
    except BpfError as exc:
        if exc.errno == 2:  # ENOENT
            return False
        raise
    return True


def keys(map_fd: int, key_size: int) -> list[bytes]:
    found: list[bytes] = []
    current = None
    following = ctypes.create_string_buffer(key_size)
    while True:
        key_buffer = ctypes.create_string_buffer(current) if current is not None else None
        attr = _attr("=IIQQ", map_fd, 0, ctypes.addressof(key_buffer) if key_buffer is not None else 0,
                     ctypes.addressof(following))
        try:
            call(MAP_GET_NEXT_KEY, attr, "listing a bpf map")
        except BpfError as exc:
            if exc.errno == 2:  # ENOENT: past the last key
                return found
            raise
        current = following.raw
        found.append(current)


def load_program(name: str, instructions: bytes, license_name: str, program_type: int, attach_type: int) -> int:
    code = ctypes.create_string_buffer(instructions)
    license_buffer = ctypes.create_string_buffer(license_name.encode())
    log = ctypes.create_string_buffer(LOG_SIZE)
    attr = _attr("=IIQQIIQII16sII", program_type, len(instructions) // 8, ctypes.addressof(code),
                 ctypes.addressof(license_buffer), 1, LOG_SIZE, ctypes.addressof(log), 0, 0,
                 name.encode()[:15], 0, attach_type)
    try:
        return call(PROG_LOAD, attr, "loading a bpf program")
    except BpfError as exc:
        raise BpfError(exc.errno, "loading a bpf program", log.value.decode(errors="replace")) from None


def attach(cgroup_fd: int, program_fd: int, attach_type: int) -> None:
    call(PROG_ATTACH, _attr("=IIII", cgroup_fd, program_fd, attach_type, F_ALLOW_MULTI),
         "attaching a bpf program to a cgroup")


def detach(cgroup_fd: int, program_fd: int, attach_type: int) -> None:
    call(PROG_DETACH, _attr("=IIII", cgroup_fd, program_fd, attach_type, 0), "detaching a bpf program")


def attached_program_ids(cgroup_fd: int, attach_type: int, most: int = 64) -> list[int]:
    ids = (ctypes.c_uint32 * most)()
    attr = _attr("=IIIIQI", cgroup_fd, attach_type, 0, 0, ctypes.addressof(ids), most)
    call(PROG_QUERY, attr, "listing the bpf programs of a cgroup")
    count = struct.unpack_from("=I", attr, 24)[0]
    return list(ids[:count])


def program_fd(program_id: int) -> int:
    return call(PROG_GET_FD_BY_ID, _attr("=I", program_id), "opening a bpf program")


def map_fd(map_id: int) -> int:
    return call(MAP_GET_FD_BY_ID, _attr("=I", map_id), "opening a bpf map")


class ProgramInfo(NamedTuple):
    name: str
    map_ids: list[int]


class MapInfo(NamedTuple):
    name: str
    key_size: int
    value_size: int


def map_info(fd: int) -> MapInfo:
    info = ctypes.create_string_buffer(MAP_INFO_SIZE)
    call(OBJ_GET_INFO_BY_FD, _attr("=IIQ", fd, MAP_INFO_SIZE, ctypes.addressof(info)), "reading a bpf map")
    key_size, value_size = struct.unpack_from("=II", info, 8)
    return MapInfo(info.raw[24:40].split(b"\0", 1)[0].decode(errors="replace"), key_size, value_size)


def program_info(fd: int, most_maps: int = 8) -> ProgramInfo:
    """A loaded program's name and the ids of the maps it uses."""
    map_ids = (ctypes.c_uint32 * most_maps)()
    info = ctypes.create_string_buffer(PROG_INFO_SIZE)
    struct.pack_into("=IQ", info, 52, most_maps, ctypes.addressof(map_ids))
    call(OBJ_GET_INFO_BY_FD, _attr("=IIQ", fd, PROG_INFO_SIZE, ctypes.addressof(info)), "reading a bpf program")
    count = struct.unpack_from("=I", info, 52)[0]
    name = info.raw[64:80].split(b"\0", 1)[0].decode(errors="replace")
    return ProgramInfo(name, list(map_ids[:min(count, most_maps)]))
