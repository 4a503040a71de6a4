"""A jupyter_client kernel provisioner that forks kernels from a per-profile fork server.

Selected in a profile's kernelspec (``kernels/<profile>/kernel.json``)::

    "metadata": {"kernel_provisioner": {"provisioner_name": "kernelgym-forkserver", "config": {...}}}

so that ``KernelManager(kernel_name="kernelgym-ehr")``, nbclient, papermill and JupyterLab all get
forked, sandboxed kernels without knowing it. Start, poll, interrupt (SIGINT to the kernel's process
group), restart (a new fork), shutdown and kill behave as with jupyter_client's LocalProvisioner.

Fail closed: where fork is unavailable (not Linux), the kernelspec's command is not kernelgym's
launcher, or the fork server cannot start or is not ready in time, no kernel starts
(:class:`~kernelgym.runtime.sandbox.SandboxUnavailable`), unless the user turned the sandbox off
(``KERNELGYM_SANDBOX=0``: LocalProvisioner's ordinary launch, one warning line). ``KERNELGYM_FORK=0``
asks for the ordinary launch, and so turns the sandbox off too.

A forked kernel of a kernel manager that kernelgym did not start itself (plain papermill,
JupyterLab) gets a host channel (:mod:`kernelgym.jupyter.host_channel`): a socket in its socket folder over
which a starter notebook asks the host for its verdict.

``config`` keys: ``sandbox`` (the fields of :class:`kernelgym.runtime.sandbox.SandboxConfig`),
``ready_timeout`` (seconds to wait for ``kernel_info``, default 120).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Dict, Float

from kernelgym.jupyter import host_channel
from kernelgym.runtime import forkclient
from kernelgym.runtime.kernel_manager import caller_waits_ready, host_channel_enabled
from kernelgym.runtime.sandbox import SandboxConfig, SandboxUnavailable, plan
from kernelgym.runtime.tempdirs import is_scratch, owned_tempdir, remove_tree, socket_parent

_warned: set[str] = set()


def _warn_once(msg: str) -> None:
    if msg not in _warned:
        _warned.add(msg)
        sys.stderr.write(f"kernelgym: {msg}\n")
        sys.stderr.flush()


def fork_available() -> tuple[bool, str]:
    """Whether kernels can be forked here, and why not."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False, f"no fork server on {sys.platform}"
    if os.environ.get("KERNELGYM_FORK", "1").strip().lower() in ("0", "false", "no", "off"):
        return False, "KERNELGYM_FORK=0"
    return True, ""


def _parse_launcher(cmd: list[str]) -> tuple[list[str], list[str]] | None:
    """``[python, [-P,] -m, kernelgym.kernel, --preload P..., -f F, extra...]`` -> (preloads, extra args)."""
    if len(cmd) > 1 and cmd[1] == "-P":  # -P: not the current folder first on sys.path (see forkserver)
        cmd = [cmd[0], *cmd[2:]]
    if len(cmd) < 3 or cmd[1:3] != ["-m", "kernelgym.kernel"]:
        return None
    if Path(cmd[0]).name.startswith("python") and os.path.realpath(cmd[0]) != os.path.realpath(sys.executable):
        if cmd[0] != "python":
            return None  # another interpreter: its environment is not ours to fork
    preloads, rest = [], []
    args = cmd[3:]
    i = 0
    while i < len(args):
        if args[i] == "--preload":
            preloads.append(os.path.abspath(args[i + 1]))
            i += 2
        elif args[i] == "-f":
            i += 2
        elif args[i].startswith("--f=") or args[i].startswith("-f="):
            i += 1
        else:
            rest.append(args[i])
            i += 1
    return preloads, rest


class ForkServerProvisioner(LocalProvisioner):  # type: ignore[misc]
    """Kernels forked from a warm zygote, each in its own sandbox; falls back to an ordinary launch."""

    sandbox = Dict(config=True, help="SandboxConfig fields (environment variables override them)")
    ready_timeout = Float(120.0, config=True, help="seconds a forked kernel has to answer kernel_info")

    _forked: forkclient.ForkedKernel | None = None
    _use_fork: bool = False
    _sockdir: str | None = None
    _own_workdir: str | None = None
    _channel: host_channel.HostChannel | None = None
    applied_sandbox: dict[str, Any] | None = None
    """The sandbox plan of the running kernel (None for an ordinary launch)."""
    forked: bool = False
    """Whether the running kernel came from the fork server."""

    @property
    def has_process(self) -> bool:
        return self._forked is not None or self.process is not None

    def _without_fork_server(self, why: str, env: dict[str, str] | None = None) -> None:
        """A kernel is about to start the ordinary way (unsandboxed): refuse unless the user turned
        the sandbox off (``KERNELGYM_SANDBOX=0``, or the fork server with ``KERNELGYM_FORK=0``)."""
        if why == "KERNELGYM_FORK=0":
            return
        if SandboxConfig.from_env(self.sandbox, env).enabled:
            raise SandboxUnavailable(f"{why}; kernelgym starts no kernel without its sandbox "
                                     "(set KERNELGYM_SANDBOX=0 to start kernels unsandboxed)")
        _warn_once(f"{why}: starting kernels the ordinary way (sandbox off)")

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        km = self.parent
        ok, why = fork_available()
        self._use_fork = ok
        if not ok:
            self._without_fork_server(why, kwargs.get("env"))
        ours = km is not None and km.transport == "ipc" and Path(km.ip).parent.name.startswith("kernelgym-ipc-")
        fresh = km is not None and not getattr(km, "_connection_file_written", False)
        if ok and fresh and (km.transport == "tcp" or (ours and self._sockdir is None)):
            # each kernel binds IPC sockets in a folder of its own: no port races between concurrent
            # starts, and the sockets stay reachable from a kernel in its own network namespace
            # (tempdirs.socket_parent says where: a tmpfs where the kernel cannot write files there)
            memory = _socket_folder_locked(SandboxConfig.from_env(self.sandbox, kwargs.get("env")))
            self._sockdir = str(owned_tempdir("ipc", dir=socket_parent(memory)))  # swept if we are killed
            os.chmod(self._sockdir, 0o755)
            km.transport = "ipc"
            km.ip = os.path.join(self._sockdir, "k")
        return await super().pre_launch(**kwargs)

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        try:
            return await self._launch(cmd, **kwargs)
        except BaseException:
            if self._forked is None and self.process is None:  # nothing started, so nothing calls cleanup
                self._remove_folders()
            raise

    async def _launch(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        env = dict(kwargs.get("env") or os.environ)
        if not self._use_fork:
            return await super().launch_kernel(cmd, **kwargs)
        parsed = _parse_launcher(cmd)
        if parsed is None:
            self._without_fork_server(f"the kernel command {cmd[:4]} is not kernelgym's kernel", env)
            return await super().launch_kernel(cmd, **kwargs)
        if self.connection_info.get("transport") != "ipc":
            self._without_fork_server("the kernel's connection file asks for TCP ports", env)
            return await super().launch_kernel(cmd, **kwargs)
        preloads, extra = parsed
        try:
            zygote = forkclient.get_zygote(preloads, env)
            await zygote.ready(self.ready_timeout)
        except (forkclient.ZygoteError, OSError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self._without_fork_server(f"the fork server is unavailable ({first})", env)
            return await super().launch_kernel(cmd, **kwargs)
        if self._forked is not None:  # restart: the old kernel is gone
            self._forked.close()
            self._forked = None
        cfg = SandboxConfig.from_env(self.sandbox, env)
        if self._channel is None and self._sockdir is not None and host_channel_enabled(self.parent):
            # a kernel a person started (plain papermill, JupyterLab): starter notebooks get their
            # verdict from the host through this socket, although the sandbox hides the task store
            self._channel = host_channel.HostChannel(self._sockdir)
        if self._channel is not None:
            env[host_channel.ENV_VAR] = self._channel.path
        cwd = kwargs.get("cwd")
        if cwd is None or (cfg.enabled and cfg.filesystem and not os.path.isdir(cwd)):
            if self._own_workdir is None:
                self._own_workdir = str(owned_tempdir("work"))
            cwd = self._own_workdir
        cwd = os.path.abspath(str(cwd))
        mount_plan = None
        if cfg.enabled:
            assert self._sockdir is not None
            mount_plan = plan(cfg, readonly=self._readonly_paths(env, preloads), workdir=cwd, sockdir=self._sockdir,
                              scratch=cwd == self._own_workdir or is_scratch(cwd))
        stdio = {}
        for name in ("stdout", "stderr"):
            stream = kwargs.get(name)
            fileno = getattr(stream, "fileno", None)
            if fileno is not None:
                try:
                    stdio[name] = fileno()
                except (OSError, ValueError):
                    pass
            elif isinstance(stream, int) and stream >= 0:
                stdio[name] = stream
        self._forked = await forkclient.request_kernel(
            zygote, argv=extra, connection_info=_jsonable(self.connection_info), env=env, cwd=cwd,
            sandbox=mount_plan, stdio=stdio, home=cwd,
        )
        self.forked = True
        if self._channel is not None:
            self._channel.allow_uid(self._forked.uid)
        self.applied_sandbox = mount_plan
        self.pid = self.pgid = self._forked.pid
        self.cwd = cwd
        if caller_waits_ready(self.parent):  # kernelgym's own start probes on its client, then calls kernel_ready
            return self.connection_info
        try:
            await forkclient.wait_for_kernel_info(self.connection_info, self._forked, self.ready_timeout)
        except forkclient.ZygoteError as exc:  # the client's wait_for_ready reports a dead kernel
            self.log.warning("kernelgym: %s", exc)
        else:
            self.kernel_ready()
        return self.connection_info

    def kernel_ready(self) -> None:
        """The kernel answered ``kernel_info``, so it has bound its sockets: its socket folder becomes the
        host's again (sandboxed kernels). Called after the provisioner's own probe, or by a starter that
        waits for the kernel itself (:func:`kernelgym.runtime.kernel_manager.caller_waits_ready`)."""
        if self.applied_sandbox is not None and self._sockdir is not None and self._forked is not None:
            _lock_socket_folder(self._sockdir, self._forked.uid)

    def _readonly_paths(self, env: dict[str, str], preloads: list[str]) -> list[str]:
        home = env.get("KERNELGYM_HOME")
        root = Path(home).expanduser() if home else Path.home() / ".cache" / "kernelgym"
        meta = (getattr(self.kernel_spec, "metadata", None) or {}).get("kernelgym", {})
        paths = [str(root / "data" / name) for name in meta.get("datasets", [])]
        paths += [str(Path(p).parent) for p in preloads]
        if getattr(self.kernel_spec, "resource_dir", None):
            paths.append(self.kernel_spec.resource_dir)
        return [p for p in paths if os.path.exists(p)]

    async def poll(self) -> int | None:
        if self._forked is not None:
            return self._forked.poll()
        return await super().poll()

    async def wait(self) -> int | None:
        if self._forked is None:
            return await super().wait()
        import asyncio

        while self._forked.poll() is None:
            await asyncio.sleep(0.01)
        ret = self._forked.returncode
        self._forked.close()
        self._forked = None
        return ret

    async def send_signal(self, signum: int) -> None:
        if self._forked is not None:
            self._forked.signal(signum)
            return
        await super().send_signal(signum)

    async def kill(self, restart: bool = False) -> None:
        if self._forked is not None:
            self._forked.signal(signal.SIGKILL)
            return
        await super().kill(restart)

    async def terminate(self, restart: bool = False) -> None:
        if self._forked is not None:
            self._forked.signal(signal.SIGTERM)
            return
        await super().terminate(restart)

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart)
        if restart:
            return
        if self._forked is not None:
            self._forked.close()
            self._forked = None
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self._remove_folders()

    def _remove_folders(self) -> None:
        for attr in ("_sockdir", "_own_workdir"):
            path = getattr(self, attr)
            if path:
                remove_tree(path)
                setattr(self, attr, None)

    async def get_provisioner_info(self) -> dict[str, Any]:
        info = await super().get_provisioner_info()
        info["forked"] = self.forked
        return info


def _socket_folder_locked(cfg: SandboxConfig) -> bool:
    """Whether a kernel started with ``cfg`` cannot write files in its socket folder once it runs, so
    that the folder may live in memory (:func:`kernelgym.runtime.tempdirs.socket_parent`): its sandbox
    gives it a uid of its own and the folder goes back to the host (:func:`_lock_socket_folder`). Also
    true without a sandbox, where nothing bounds what a kernel writes anyway."""
    return not cfg.enabled or (os.geteuid() == 0 and cfg.separate_uid)


def _lock_socket_folder(folder: str, kernel_uid: int | None) -> None:
    """Once a kernel has bound its sockets, its socket folder (on the host's disk) becomes the host's
    again: the kernel can no longer create files there (its only host folder besides a person's
    working folder), only use the sockets. Only where the kernel runs as a uid of its own."""
    if kernel_uid is None or os.geteuid() != 0:
        return
    try:
        os.chown(folder, 0, 0)
        os.chmod(folder, 0o755)
    except OSError:
        pass


def _jsonable(info: KernelConnectionInfo) -> dict[str, Any]:
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in dict(info).items()}
