"""Sandbox for every kernel: a private file system view, no network, resource limits, no orphans.

Two halves:

- **host side** (:class:`SandboxConfig`, :func:`plan`): decides what a kernel may see. Only the
  profile's data (read-only), the Python environment (read-only), the kernel side of kernelgym
  (``kernelgym/__init__.py`` and ``kernelgym/kernel/``), the profile's kernelspec folder, the
  kernel's working directory and its socket folder (read-write). The task store
  (``$KERNELGYM_HOME/tasks``), task specs, generators, ground truth and every other host file are
  simply absent from the view.
- **kernel side** (:func:`apply`): runs in a freshly forked, still single-threaded kernel process,
  before any thread or socket exists, as root. Mechanisms, in order (each one measured by
  :func:`probe` and recorded in ``docs/sandbox.md``):

  1. ``setsid()``: the kernel leads its own process group (interrupts and kills reach its children).
  2. ``unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC)``: a private mount namespace, an empty
     network namespace (only a loopback that is down: no connection can be opened, not even to the
     host) and System V IPC / POSIX message queues of its own (gone when the kernel is).
  3. A tmpfs root with read-only bind mounts of the allowed paths, a fresh ``/proc`` (the kernel is
     PID 1 of its own PID namespace, made by the fork server, so it sees only its own processes),
     a private ``/tmp``, then ``pivot_root`` and a detach of the old root.
  4. Resource limits: ``RLIMIT_AS`` (memory; an over-limit allocation raises ``MemoryError``),
     ``RLIMIT_NPROC`` (processes and threads of the kernel's uid), ``RLIMIT_CORE`` 0.
  5. A separate unprivileged uid/gid per kernel (``setgroups([])``, ``setgid``, ``setuid``): the
     kernel holds no capability, so it can neither undo the mounts, nor raise its limits, nor signal
     or trace processes of other users (its owner, other kernels).
  6. ``PR_SET_PDEATHSIG(SIGKILL)`` (set after the uid change, which clears it): the kernel dies with
     the fork server, which dies with the run.
  7. ``no_new_privs`` and a seccomp filter (:func:`seccomp_program`): no new namespaces, no
     ``ptrace``, ``bpf``, ``io_uring``, keyrings and the other calls in :data:`DENIED_SYSCALLS`.

When the host does not run as root, steps 2-5 use a user namespace instead of a uid change
(``unshare(CLONE_NEWUSER | ...)`` mapping the caller's uid), which keeps the same file system view.

:func:`apply` is :func:`prepare` (steps 1-3 up to the kernel's own folders: what every kernel of a
profile shares, done ahead of time by a fork server's spare child) then :func:`finish` (the
writable binds, ``pivot_root``, steps 4-6).
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kernelgym._libc import libc as c_library
from kernelgym._package import PACKAGE_ROOT

GiB = 1024**3

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
SYS_PIVOT_ROOT = 155  # x86_64
SYS_SETNS = 308

UID_BASE = 1_900_000
"""Kernels run as uids from ``UID_BASE`` up (uids no account uses), one per live kernel."""
UID_BLOCK = 1 << 16
"""Uids a fork server hands out before it wraps around (one per kernel it forks)."""
UID_BLOCKS = 4096
"""Blocks of ``UID_BLOCK`` uids above ``UID_BASE`` (the last uid stays far below 2**32 - 1)."""
UID_LEASES = "/tmp/.kernelgym-uid-leases"
"""One lock file per block: a fork server holds the lock (``flock``) of its block while it lives."""


def lease_uid_block(hint: int = 0, *, folder: str = UID_LEASES) -> tuple[int, int]:
    """A block of kernel uids no other live fork server on this machine holds: ``(first uid, fd)``.

    The block is held by an exclusive ``flock`` on its lock file, which the kernel releases when the
    holder (and every process that inherited the descriptor) is gone, ``kill -9`` included; so two
    fork servers never run kernels under the same uid (the pid-derived blocks they used before
    collided, and a kernel could then signal or read another run's kernel). ``hint`` picks where
    the search starts (the caller's pid spreads them). Raises ``RuntimeError`` if every block is held.
    """
    import fcntl

    os.makedirs(folder, mode=0o700, exist_ok=True)
    for i in range(UID_BLOCKS):
        block = (hint + i) % UID_BLOCKS
        fd = os.open(os.path.join(folder, f"{block}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return UID_BASE + block * UID_BLOCK, fd
    raise RuntimeError(f"all {UID_BLOCKS} blocks of kernel uids are held by live fork servers ({folder})")


class SandboxUnavailable(RuntimeError):
    """A kernel would have started without its sandbox (no fork server here, or it failed): refused."""


@dataclass
class SandboxConfig:
    """The sandbox settings of a kernel. Every field has an environment override (``KERNELGYM_SANDBOX*``)."""

    enabled: bool = True
    """Master switch (``KERNELGYM_SANDBOX=0`` turns every isolation below off)."""
    filesystem: bool = True
    """Private file system view (mount namespace, read-only binds, pivot_root)."""
    network: bool = False
    """Allow network access; False puts the kernel in an empty network namespace."""
    memory_bytes: int = 4 * GiB
    """Address-space limit of the kernel (RLIMIT_AS); 0 for none."""
    max_processes: int = 256
    """Processes plus threads the kernel's uid may have (RLIMIT_NPROC); 0 for none."""
    separate_uid: bool = True
    """Run the kernel as its own unprivileged uid when the host runs as root."""
    tmp_bytes: int = 1 * GiB
    """Size of the kernel's private /tmp (tmpfs)."""
    work_bytes: int = 1 * GiB
    """Size of a scratch working folder (a tmpfs in the kernel's view; see :func:`plan`)."""
    file_bytes: int = 1 * GiB
    """Largest file the kernel may write anywhere (RLIMIT_FSIZE; a bigger write fails with EFBIG); 0 for none."""
    seccomp: bool = True
    """Deny the system calls a kernel never needs (:data:`DENIED_SYSCALLS`, new namespaces)."""
    extra_readonly: list[str] = field(default_factory=list)
    """More host paths the kernel may read."""

    @classmethod
    def from_env(cls, base: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> SandboxConfig:
        """Settings from ``base`` (e.g. the kernelspec's provisioner config), then environment overrides."""
        env = dict(os.environ if env is None else env)
        cfg = cls(**{k: v for k, v in (base or {}).items() if k in cls.__dataclass_fields__})

        def flag(name: str) -> bool | None:
            value = env.get(name)
            return None if value is None else value.strip().lower() not in ("0", "false", "no", "off", "")

        for attr, name in (("enabled", "KERNELGYM_SANDBOX"), ("filesystem", "KERNELGYM_SANDBOX_FS"),
                           ("network", "KERNELGYM_SANDBOX_NETWORK"), ("separate_uid", "KERNELGYM_SANDBOX_UID"),
                           ("seccomp", "KERNELGYM_SANDBOX_SECCOMP")):
            value = flag(name)
            if value is not None:
                setattr(cfg, attr, value)
        for attr, name in (("memory_bytes", "KERNELGYM_MEMORY_LIMIT"), ("max_processes", "KERNELGYM_MAX_PROCESSES"),
                           ("tmp_bytes", "KERNELGYM_TMP_LIMIT"), ("work_bytes", "KERNELGYM_WORK_LIMIT"),
                           ("file_bytes", "KERNELGYM_FILE_LIMIT")):
            if env.get(name):
                setattr(cfg, attr, parse_size(env[name]))
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_size(text: str) -> int:
    """``"4G"`` -> 4 GiB, ``"512M"``, ``"100000"``."""
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    for suffix, mult in (("K", 1024), ("M", 1024**2), ("G", GiB), ("T", 1024 * GiB)):
        if text.endswith(suffix):
            return int(float(text[:-1]) * mult)
    return int(text)


# ----------------------------------------------------------------------------------------------
# host side: what a kernel may see


def kernel_side_paths() -> list[str]:
    """The files of kernelgym a kernel needs: the package's ``__init__.py`` (and the old-path aliases it
    installs, :mod:`kernelgym._compat`) and ``kernelgym/kernel/`` only."""
    pkg = PACKAGE_ROOT
    return [str(p) for p in (pkg / "__init__.py", pkg / "_compat.py", pkg / "py.typed", pkg / "kernel") if p.exists()]


def python_paths() -> list[str]:
    """The Python environment: venv and base installation (resolved, so symlinks work)."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(sys.executable).resolve().parent.parent)}
    return sorted(p for p in paths if p and os.path.isdir(p))


def hidden_paths() -> list[str]:
    """Folders inside the allowed ones that must stay empty: host resources installed next to the venv."""
    out = []
    for entry in sys.path:
        p = Path(entry) / "kernelgym" / "_resources"
        if p.is_dir():
            out.append(str(p))
    return out


def plan(cfg: SandboxConfig, *, readonly: list[str], workdir: str, sockdir: str, scratch: bool = False) -> dict[str, Any]:
    """The mount plan a forked kernel applies: a JSON-able dict (sent to the fork server).

    ``scratch``: the working folder is a throw-away folder of kernelgym's (an episode's, a grade's):
    the kernel gets a tmpfs of ``work_bytes`` there instead of the host folder, so what it writes
    is bounded and never reaches the host's disk. A person's folder (papermill, JupyterLab) is bound
    as it is.
    """
    system = [p for p in ("/usr", "/etc", "/opt/conda") if os.path.isdir(p)]
    links = {p: os.readlink(p) for p in ("/bin", "/sbin", "/lib", "/lib64", "/lib32") if os.path.islink(p)}
    system += [p for p in ("/bin", "/sbin", "/lib", "/lib64") if os.path.isdir(p) and not os.path.islink(p)]
    ro = system + python_paths() + kernel_side_paths() + [os.path.abspath(p) for p in readonly]
    ro += [os.path.abspath(p) for p in cfg.extra_readonly]
    return {
        "config": cfg.to_dict(),
        "readonly": sorted(set(p for p in ro if os.path.exists(p))),
        "hidden": hidden_paths(),
        "symlinks": links,
        "writable": [os.path.abspath(workdir), os.path.abspath(sockdir)],
        "workdir": os.path.abspath(workdir),
        "scratch": scratch,
    }


# ----------------------------------------------------------------------------------------------
# kernel side: runs in the forked child


_typed = False


def libc() -> Any:
    """The process's C library (:func:`kernelgym._libc.libc`) with the argument types of the calls below."""
    global _typed
    lib = c_library()
    if not _typed:
        lib.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
        lib.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        lib.unshare.argtypes = [ctypes.c_int]
        _typed = True
    return lib


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(libc().unshare(flags), f"unshare({flags:#x})")


def setns(fd: int, nstype: int) -> None:
    _check(libc().syscall(SYS_SETNS, fd, nstype), "setns")


def mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(libc().mount(enc(src), enc(target), enc(fstype), flags, enc(data)), f"mount {src} on {target}")


def set_pdeathsig(sig: int = signal.SIGKILL) -> None:
    _check(libc().prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def _mkdirs(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def _bind(root: str, path: str, *, readonly: bool) -> None:
    target = root + path
    if os.path.isdir(path):
        _mkdirs(target)
    else:
        _mkdirs(os.path.dirname(target))
        if not os.path.exists(target):
            open(target, "a").close()
    mount(path, target, None, MS_BIND | MS_REC)
    if readonly:
        mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _build_root(root: str, mp: dict[str, Any], cfg: dict[str, Any]) -> None:
    """The kernel's root, except its writable folders (see :func:`_enter_root`)."""
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    # /tmp first: the binds below often live under the host's /tmp (episode dirs, sockets, test data)
    _mkdirs(root + "/tmp")
    mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(cfg['tmp_bytes'])},mode=1777")
    _mkdirs(root + "/dev")
    for dev in ("null", "zero", "full", "random", "urandom", "tty"):
        if os.path.exists("/dev/" + dev):
            _bind(root, "/dev/" + dev, readonly=False)
    _mkdirs(root + "/dev/shm")
    mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=256m,mode=1777")
    for name, dest in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                       ("stderr", "/proc/self/fd/2")):
        os.symlink(dest, f"{root}/dev/{name}")
    for path in mp["readonly"]:
        _bind(root, path, readonly=True)
    for path in mp["hidden"]:
        if os.path.isdir(root + path):
            mount("tmpfs", root + path, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=555")
    for link, dest in mp["symlinks"].items():
        if not os.path.lexists(root + link):
            os.symlink(dest, root + link)
    _mkdirs(root + "/proc")
    try:  # a fresh procfs: in the kernel's own PID namespace it lists only the kernel's processes
        mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | 8, "hidepid=2")  # 8 = MS_NOEXEC
    except OSError:
        mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | 8)


def _enter_root(root: str, mp: dict[str, Any], owner: int | None) -> None:
    """Bind the kernel's writable folders into its root, switch to it and lock it read-only."""
    for path in mp["writable"]:
        if path == mp["workdir"] and mp.get("scratch"):
            _mkdirs(root + path)
            ids = f",uid={owner},gid={owner}" if owner is not None else ""
            mount("tmpfs", root + path, "tmpfs", MS_NOSUID | MS_NODEV,
                  f"size={int(mp['config']['work_bytes'])},mode=700{ids}")
            continue
        _bind(root, path, readonly=False)
    old = root + "/.oldroot"
    os.mkdir(old)
    _check(libc().syscall(SYS_PIVOT_ROOT, root.encode(), old.encode()), "pivot_root")
    os.chdir("/")
    _check(libc().umount2(b"/.oldroot", MNT_DETACH), "umount old root")
    os.rmdir("/.oldroot")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def static_part(mp: dict[str, Any] | None) -> dict[str, Any] | None:
    """What :func:`prepare` uses of a plan: everything but the kernel's own writable folders."""
    if mp is None:
        return None
    return {k: mp[k] for k in ("config", "readonly", "hidden", "symlinks")}


def prepare(mp: dict[str, Any] | None, *, newroot: str, pid_namespace: bool) -> list[str]:
    """First half of :func:`apply`: what does not depend on the kernel's uid or folders.

    A fork server runs it in a spare child ahead of requests (only :func:`static_part` of ``mp`` is
    used): session, namespaces, and the root with its read-only binds, not yet entered.
    Returns the mechanisms applied so far.
    """
    applied = ["setsid"]
    os.setsid()
    if mp is None or not mp["config"]["enabled"]:
        return applied
    cfg = mp["config"]
    root_user = os.geteuid() == 0
    flags = CLONE_NEWIPC  # System V IPC and POSIX message queues of its own, gone with the kernel
    if cfg["filesystem"]:
        flags |= CLONE_NEWNS
    if not cfg["network"]:
        flags |= CLONE_NEWNET
    if not root_user:
        flags |= CLONE_NEWUSER
    real_uid, real_gid = os.getuid(), os.getgid()
    unshare(flags)
    if flags & CLONE_NEWUSER:
        with open("/proc/self/setgroups", "w") as fh:
            fh.write("deny")
        with open("/proc/self/uid_map", "w") as fh:
            fh.write(f"{real_uid} {real_uid} 1\n")
        with open("/proc/self/gid_map", "w") as fh:
            fh.write(f"{real_gid} {real_gid} 1\n")
        applied.append("user-namespace")
    applied.append("ipc-namespace")
    if flags & CLONE_NEWNET:
        applied.append("network-namespace")
    if cfg["filesystem"]:
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        _build_root(newroot, mp, cfg)
    return applied


def finish(mp: dict[str, Any] | None, applied: list[str], *, uid: int, newroot: str, pid_namespace: bool) -> list[str]:
    """Second half of :func:`apply`, after :func:`prepare` of the same plan's static part."""
    if mp is None or not mp["config"]["enabled"]:
        set_pdeathsig()
        return applied
    cfg = mp["config"]
    drop_uid = os.geteuid() == 0 and cfg["separate_uid"]
    if drop_uid:
        for path in mp["writable"]:  # a fresh working dir and the socket dir belong to the kernel's uid
            if path != mp["workdir"] or (not mp.get("scratch") and not os.listdir(path)):
                os.chown(path, uid, uid)
    if cfg["filesystem"]:
        _enter_root(newroot, mp, uid if drop_uid else None)
        applied.append("mount-namespace+pivot_root")
        if pid_namespace:
            applied.append("pid-namespace")
    os.chdir(mp["workdir"])
    if cfg["memory_bytes"]:
        resource.setrlimit(resource.RLIMIT_AS, (cfg["memory_bytes"], cfg["memory_bytes"]))
        applied.append("rlimit-as")
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if cfg.get("file_bytes"):
        resource.setrlimit(resource.RLIMIT_FSIZE, (cfg["file_bytes"], cfg["file_bytes"]))
        applied.append("rlimit-fsize")
    if drop_uid:
        if cfg["max_processes"]:
            resource.setrlimit(resource.RLIMIT_NPROC, (cfg["max_processes"], cfg["max_processes"]))
            applied.append("rlimit-nproc")
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        applied.append(f"uid={uid}")
    libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    set_pdeathsig()
    if cfg.get("seccomp", True) and install_seccomp_filter():
        applied.append("seccomp")
    return applied


# ----------------------------------------------------------------------------------------------
# seccomp: system calls a kernel never needs
#
# A classic BPF program over ``struct seccomp_data`` (nr at offset 0, arch at 4, args from 16),
# installed with ``prctl(PR_SET_SECCOMP)`` after ``no_new_privs``, before the kernel starts a thread
# (every thread it starts inherits it). Denied calls fail with EPERM; the kernel lives on.

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
CLONE_NEW_ANY = 0x7E020000
"""CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: ``clone`` may not make a namespace."""

DENIED_SYSCALLS: dict[str, int] = {  # x86_64 numbers
    # namespaces and mounts: a new user namespace gives a kernel capabilities over new namespaces
    # (kernel attack surface); it has no business entering or making any
    "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442, "name_to_handle_at": 303, "open_by_handle_at": 304,
    # other processes' memory
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
    # kernel interfaces with a record of exploits and no use in data analysis
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "keyctl": 250, "add_key": 248,
    "request_key": 249, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    # the machine's own state (also refused for lack of capabilities; denied here as a second wall)
    "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
    "delete_module": 176, "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163, "quotactl": 179,
    "syslog": 103, "uselib": 134,
}
SYS_CLONE = 56
SYS_CLONE3 = 435


def seccomp_program() -> bytes:
    """The filter as ``struct sock_filter[]`` bytes (x86_64)."""
    import struct

    ld, jeq, jset, jge, ret = 0x20, 0x15, 0x45, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, JSET, JGE, BPF_RET|K
    deny = SECCOMP_RET_ERRNO | errno.EPERM
    out: list[tuple[int, int, int, int]] = [
        (ld, 0, 0, 4),                                   # arch
        (jeq, 1, 0, AUDIT_ARCH_X86_64),
        (ret, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),  # i386 calls (int 0x80): none
        (ld, 0, 0, 0),                                   # nr
        (jge, 0, 1, X32_SYSCALL_BIT),
        (ret, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),  # x32 calls: none
        (jeq, 0, 1, SYS_CLONE3),
        (ret, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),  # its flags sit behind a pointer; libc falls back to clone
        (jeq, 0, 4, SYS_CLONE),
        (ld, 0, 0, 16),                                  # clone's flags, low 32 bits
        (jset, 0, 1, CLONE_NEW_ANY),
        (ret, 0, 0, deny),
        (ret, 0, 0, SECCOMP_RET_ALLOW),
    ]
    for nr in sorted(set(DENIED_SYSCALLS.values())):
        out += [(jeq, 0, 1, nr), (ret, 0, 0, deny)]
    out.append((ret, 0, 0, SECCOMP_RET_ALLOW))
    return b"".join(struct.pack("HBBI", *ins) for ins in out)


def install_seccomp_filter() -> bool:
    """Install :func:`seccomp_program` in this thread; False (nothing done) where it does not apply."""
    import platform

    if sys.platform != "linux" or platform.machine() != "x86_64":
        return False
    prog = seccomp_program()

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    fprog = SockFprog(len(prog) // 8, prog)
    _check(libc().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "prctl(PR_SET_SECCOMP)")
    return True


def apply(mp: dict[str, Any] | None, *, uid: int, newroot: str, pid_namespace: bool) -> list[str]:
    """Enter the sandbox described by ``mp`` (from :func:`plan`). Returns the mechanisms applied.

    Must run in a single-threaded process. Raises OSError if a required step fails: a kernel that
    cannot be isolated as configured must not start.
    """
    applied = prepare(mp, newroot=newroot, pid_namespace=pid_namespace)
    return finish(mp, applied, uid=uid, newroot=newroot, pid_namespace=pid_namespace)


def probe() -> dict[str, Any]:
    """Which isolation mechanisms this host allows (each tried in a throw-away child process)."""
    def attempt(fn: Any) -> str:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                fn()
            except OSError as exc:
                code = exc.errno or 1
            except BaseException:
                code = 255
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        return "ok" if code == 0 else (os.strerror(code) if 0 < code < 255 else "failed")

    def landlock() -> None:
        abi = libc().syscall(444, None, 0, 1)
        if abi < 1:
            raise OSError(ctypes.get_errno() or errno.ENOSYS, "landlock")

    return {
        "platform": sys.platform,
        "root": os.geteuid() == 0,
        "fork": hasattr(os, "fork"),
        "mount+net namespace": attempt(lambda: unshare(CLONE_NEWNS | CLONE_NEWNET)),
        "user namespace": attempt(lambda: unshare(CLONE_NEWUSER)),
        "pid namespace": attempt(lambda: unshare(CLONE_NEWPID)),
        "landlock": attempt(landlock),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(probe(), indent=2))
