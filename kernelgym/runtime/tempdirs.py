"""Temporary folders that name their owner, and a sweep that removes those whose owner is gone.

kernelgym removes the folders it makes in the temp folder (an episode's working folder, a fork
server's run folder ...) when it is done with them, but a process killed with SIGKILL runs no
cleanup code and its folders stay behind. A folder made by :func:`owned_tempdir` names the process
that made it::

    kernelgym-<kind>-<pid>.<start>.<pidns>.<boot>-<random>

``start`` is the process's start time (clock ticks after boot, field 22 of ``/proc/<pid>/stat``),
``pidns`` the inode of its PID namespace and ``boot`` the first 8 hex digits of the kernel's boot
id. :func:`sweep` (called when a run starts) removes such a folder only when its owner provably no
longer exists: the folder belongs to this user, was made during this boot in this PID namespace
(so its pid names the same process here), and no process with that pid and that start time is
alive. The folders of a running process (the sweeper's own included), of another user, of another
machine or container sharing the temp folder, and folders without an owner in their name (made by
older versions) are always kept.

This module uses the standard library only: the fork server (a process that imports nothing of
kernelgym's host side) makes its run folder with it too.
"""

from __future__ import annotations

import functools
import os
import re
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kernelgym.runtime.sandbox import UID_BASE, UID_BLOCK, UID_BLOCKS

SWEPT_KINDS: tuple[str, ...] = ("episode", "grade", "taskkernel", "zygote", "fs", "ipc", "work")
"""The kinds of folder kernelgym makes with :func:`owned_tempdir` (``kernelgym-<kind>-...``)."""

SHM = "/dev/shm"


def socket_parent(memory: bool = True) -> str | None:
    """Where kernels' socket folders go: ``/dev/shm`` (a tmpfs) when ``memory`` and this user may make
    folders there, else ``/tmp``.

    A kernel binds its five IPC sockets and writes its connection file in a folder of its own, one per
    kernel. On ext4 (``/tmp`` on many machines) binding a socket allocates an inode, and while a run makes
    and removes thousands of them the allocator scans its recently deleted ones: at 128 episodes in
    flight, ``bind`` and ``mkdir`` took 4.4 % of the machine's CPU (docs/benchmarks.md); ``bind`` on a
    tmpfs, 0.07 %.
    The caller passes ``memory=False`` when a kernel could write files in its folder (what it writes would
    then take memory, not disk). Short either way: a Unix socket's path has at most 107 bytes, whatever
    ``TMPDIR`` says.
    """
    if memory and _shm_usable():
        return SHM
    return "/tmp" if os.path.isdir("/tmp") else None


@functools.cache
def _shm_usable() -> bool:
    try:
        st = os.stat(SHM)
        sticky_or_ours = bool(st.st_mode & stat.S_ISVTX) or st.st_uid == os.geteuid()
        return stat.S_ISDIR(st.st_mode) and sticky_or_ours and os.access(SHM, os.W_OK | os.X_OK)
    except OSError:
        return False


_OWNED = re.compile(r"^kernelgym-(?P<kind>[a-z]+)-(?P<pid>\d+)\.(?P<start>\d+)\.(?P<ns>\d+)\.(?P<boot>[0-9a-f]{8})-[a-z0-9_]+$")


@dataclass(frozen=True)
class Owner:
    """The process that made a folder, as its name records it."""

    pid: int
    start: int
    """Start time in clock ticks after boot (``/proc/<pid>/stat`` field 22)."""
    pidns: int
    """Inode of the process's PID namespace (``/proc/<pid>/ns/pid``)."""
    boot: str
    """First 8 hex digits of ``/proc/sys/kernel/random/boot_id``."""

    def token(self) -> str:
        """The owner as it appears in a folder name."""
        return f"{self.pid}.{self.start}.{self.pidns}.{self.boot}"


def process_start(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks after boot; None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
        # the command name (field 2) may hold spaces and parentheses: fields 3.. follow the last ')'
        return int(stat[stat.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


@functools.cache
def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            boot = fh.read().strip().replace("-", "").lower()[:8]
    except OSError:
        return None
    return boot if re.fullmatch(r"[0-9a-f]{8}", boot) else None


def _pidns() -> int | None:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None


def current_owner() -> Owner | None:
    """This process as an :class:`Owner`; None where ``/proc`` does not tell (then folders get no owner)."""
    pid = os.getpid()
    if pid not in _owners:  # a process's start time never changes; a forked child has another pid
        start, pidns, boot = process_start(pid), _pidns(), _boot_id()
        _owners[pid] = None if start is None or pidns is None or boot is None else Owner(pid, start, pidns, boot)
    return _owners[pid]


_owners: dict[int, Owner | None] = {}


def owned_tempdir(kind: str, dir: str | os.PathLike[str] | None = None) -> Path:
    """A new private folder ``kernelgym-<kind>-<owner>-<random>`` in ``dir`` (default: the temp folder).

    The caller still removes it when done; :func:`sweep` removes it only once this process is gone.
    """
    if not re.fullmatch(r"[a-z]+", kind):
        raise ValueError(f"a temp folder kind is lowercase letters only (it is parsed back from the name), not {kind!r}")
    owner = current_owner()
    prefix = f"kernelgym-{kind}-{owner.token()}-" if owner is not None else f"kernelgym-{kind}-"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=dir))


SCRATCH_KINDS: tuple[str, ...] = ("episode", "grade", "taskkernel", "work")
"""Kinds of folder that are a kernel's throw-away working folder (nothing on the host reads them)."""


def is_scratch(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is, or lies in, a throw-away working folder kernelgym made for a kernel."""
    return any((parsed := parse_owner(part)) is not None and parsed[0] in SCRATCH_KINDS
               for part in Path(path).parts)


def parse_owner(name: str) -> tuple[str, Owner] | None:
    """``(kind, owner)`` of a folder name made by :func:`owned_tempdir`; None for any other name."""
    m = _OWNED.match(name)
    if m is None:
        return None
    return m["kind"], Owner(int(m["pid"]), int(m["start"]), int(m["ns"]), m["boot"])


def owner_alive(owner: Owner) -> bool:
    """Whether ``owner`` may still be running (True unless it provably is not).

    Only meaningful for an owner of this boot and PID namespace (see :func:`abandoned`).
    """
    start = process_start(owner.pid)
    if start is not None:
        return start == owner.start  # another start time: the pid was reused, the owner is gone
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists (EPERM): /proc hides it, so its start time cannot be compared
    return True


KERNEL_UIDS = range(UID_BASE, UID_BASE + UID_BLOCKS * UID_BLOCK)
"""The uids sandboxed kernels run as when the host is root (a fork server's leased block, see
:func:`kernelgym.runtime.sandbox.lease_uid_block`): the folders a kernel writes to (its working and
socket folders) are handed to it."""


def _ours(uid: int) -> bool:
    """Whether a folder of this uid is this user's to remove (root also owns its kernels' folders)."""
    return uid == os.geteuid() or (os.geteuid() == 0 and uid in KERNEL_UIDS)


def abandoned(path: str | os.PathLike[str], kinds: Iterable[str] = SWEPT_KINDS, me: Owner | None = None) -> bool:
    """Whether ``path`` is a folder of one of ``kinds`` whose owner provably no longer exists.

    ``me``: this process (:func:`current_owner`, looked up when not given).
    """
    p = Path(path)
    parsed = parse_owner(p.name)
    if parsed is None or parsed[0] not in set(kinds):
        return False
    _, owner = parsed
    me = me or current_owner()
    if me is None or owner.boot != me.boot or owner.pidns != me.pidns:
        return False  # another boot, machine or container: its pids may name other processes
    try:
        st = p.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or not _ours(st.st_uid):
        return False  # a symlink, a file, or another user's folder
    return not owner_alive(owner)


def remove_tree(path: str | os.PathLike[str]) -> bool:
    """Remove the folder ``path`` and everything in it, however deep; never raises. True if it is gone.

    A kernel may leave a tree thousands of levels deep: ``shutil.rmtree`` then raises
    ``RecursionError`` (which ``ignore_errors`` does not catch) and paths exceed ``PATH_MAX``. This
    lifts the contents of each subfolder up into ``path`` (renames within two levels, so no path grows
    and no recursion or descriptor stack is needed) until none is left, unlinking files as it goes.
    """
    top = os.fspath(path)
    try:
        if os.path.isdir(top) and not os.path.islink(top):
            try:
                os.chmod(top, 0o700)
            except OSError:
                pass
        if os.path.islink(top) or not os.path.isdir(top):
            if os.path.lexists(top):
                os.unlink(top)
            return not os.path.lexists(top)
        fresh = 0
        while True:
            subdirs = 0
            with os.scandir(top) as entries:
                names = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
            for name, is_dir in names:
                child = os.path.join(top, name)
                if not is_dir:
                    try:
                        os.unlink(child)
                    except FileNotFoundError:
                        pass
                    continue
                subdirs += 1
                try:
                    os.chmod(child, 0o700)  # a folder its kernel made unreadable
                except OSError:
                    pass
                with os.scandir(child) as inner:
                    grandchildren = [e.name for e in inner]
                for g in grandchildren:
                    fresh += 1
                    os.rename(os.path.join(child, g), os.path.join(top, f".kg-{fresh}-{g}"[:200]))
                os.rmdir(child)
            if subdirs == 0:
                break
        os.rmdir(top)
    except Exception:  # noqa: BLE001 - cleanup never raises; what is left is swept later
        pass
    return not os.path.lexists(top)


def sweep(root: str | os.PathLike[str] | None = None, kinds: Iterable[str] = SWEPT_KINDS) -> list[Path]:
    """Remove the folders of ``kinds`` in ``root`` (default: the temp folder, /tmp and :func:`socket_parent`)
    whose owner is gone.

    Returns the folders removed. Never raises: a folder that cannot be read or removed is left.
    """
    if root is None:  # socket and fork-server folders go to /dev/shm or /tmp, whatever TMPDIR says
        bases = list(dict.fromkeys(p for p in (tempfile.gettempdir(), "/tmp", socket_parent(memory=True))
                                   if p is not None and os.path.isdir(p)))
    else:
        bases = [str(root)]
    kinds = tuple(kinds)
    removed: list[Path] = []
    me = current_owner()
    if me is None:
        return removed  # without /proc nothing can be proved abandoned
    entries = []
    for base in bases:
        try:
            entries += list(os.scandir(base))
        except OSError:
            continue
    for entry in entries:
        if not entry.name.startswith("kernelgym-"):
            continue
        path = Path(entry.path)
        try:
            if abandoned(path, kinds, me) and remove_tree(path):
                removed.append(path)
        except Exception:  # noqa: BLE001 - one odd folder never stops a run or a grade
            continue
    return removed
