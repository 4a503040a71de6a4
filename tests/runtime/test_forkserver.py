"""Fork server, provisioner and warm pool: real zygotes, real KernelManager / nbclient / papermill."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager, KernelManager

from helpers.data import ensure_ehr_data
from helpers.processes import _name, kill_9_busy_run, wait_gone
from kernelgym.jupyter.provisioner import ForkServerProvisioner
from kernelgym.runtime.profiles import kernel_name, spec_manager

pytestmark = [pytest.mark.kernel]

EHR = kernel_name("ehr")


@pytest.fixture(scope="module")
def ehr(kg_home: Path) -> Path:
    return ensure_ehr_data()


def run_code(kc: Any, code: str, timeout: float = 30) -> tuple[str, str]:
    """Execute ``code`` on a blocking client: (status, stdout + error names)."""
    out: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")
        elif msg["msg_type"] == "execute_result":
            out.append(msg["content"]["data"].get("text/plain", ""))

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    return reply["content"]["status"], "".join(out)


@pytest.fixture
def km(ehr: Path) -> Any:
    km = KernelManager(kernel_name=EHR, kernel_spec_manager=spec_manager())
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    yield km, kc
    kc.stop_channels()
    if km.has_kernel:
        km.shutdown_kernel(now=True)


def test_kernel_manager_gets_a_forked_kernel_with_the_profile_data(km: Any) -> None:
    manager, kc = km
    assert isinstance(manager.provisioner, ForkServerProvisioner)
    assert manager.provisioner.forked
    assert manager.transport == "ipc"
    status, out = run_code(kc, "print(len(patients), type(sql).__name__, callable(submit))")
    assert status == "ok" and out.split()[1:] == ["SQL", "True"] and int(out.split()[0]) > 0
    # sql() opens its DuckDB connection in the kernel, never in the zygote
    status, out = run_code(kc, "print(int(sql('select count(*) n from patients').n[0]) == len(patients))")
    assert (status, out.strip()) == ("ok", "True")


def _fs_type(path: str) -> str:
    """File system type of the mount ``path`` lies on (the longest mount point in /proc/mounts)."""
    best, kind = "", ""
    for line in Path("/proc/mounts").read_text().splitlines():
        _, point, fstype, *_ = line.split()
        if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, fstype
    return kind


def test_a_kernels_socket_folder_is_on_a_tmpfs_where_the_kernel_cannot_write_there(km: Any) -> None:
    """Pins the socket folders' move off /tmp: at 128 episodes in flight, binding sockets and making
    folders on ext4 took 4.4 % of the machine's CPU (ext4 scans its recently deleted inodes); binding
    them on a tmpfs, 0.07 %. Only where the kernel can write no file there (a uid of its own, the folder handed back to
    the host once bound), so that a kernel cannot fill the host's memory through it."""
    from kernelgym.jupyter.provisioner import _socket_folder_locked
    from kernelgym.runtime.sandbox import SandboxConfig
    from kernelgym.runtime.tempdirs import socket_parent

    manager, kc = km
    folder = os.path.dirname(manager.ip)
    if not os.path.isdir("/dev/shm") or not os.access("/dev/shm", os.W_OK | os.X_OK) or os.geteuid() != 0:
        pytest.skip("needs a root host with a writable /dev/shm (elsewhere socket folders stay in /tmp)")
    assert os.path.dirname(folder) == "/dev/shm" and _fs_type(folder) == "tmpfs"
    assert sorted(n for n in os.listdir(folder) if n.startswith("k-")), "the kernel's sockets are in that folder"
    status, out = run_code(kc, "open('/dev/shm/' + __import__('os').listdir('/dev/shm')[0] + '/x', 'w')")
    assert status == "error" and "PermissionError" in out  # its own view of the folder: bound, handed back
    # a kernel that would keep a writable folder (no uid of its own) gets it on disk, as before
    assert not _socket_folder_locked(SandboxConfig(separate_uid=False))
    assert _socket_folder_locked(SandboxConfig()) and _socket_folder_locked(SandboxConfig(enabled=False))
    assert socket_parent(memory=False) == "/tmp"


@pytest.mark.slow
def test_interrupt_restart_shutdown_and_kill_behave_as_jupyter_client_expects(km: Any) -> None:
    manager, kc = km
    run_code(kc, "x = 41")
    # stop_on_error=False, as episodes and kernelgym's papermill engine send cells: with True,
    # ipykernel 7 aborts requests that reach it before its "stop aborting" marker, and under load the
    # next request below sometimes did (status "aborted": a race in ipykernel, not in the fork server)
    kc.execute("import time\nwhile True:\n    time.sleep(0.01)", stop_on_error=False)
    time.sleep(0.3)
    manager.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=10)
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    assert run_code(kc, "print(x + 1)") == ("ok", "42\n")  # state survives an interrupt
    old_pid = manager.provisioner.pid
    manager.restart_kernel(now=True)
    kc.wait_for_ready(timeout=60)
    assert manager.provisioner.pid != old_pid and manager.provisioner.forked
    assert run_code(kc, "print('x' in dir(), len(patients) > 0)") == ("ok", "False True\n")
    manager.shutdown_kernel(now=False)  # polite shutdown: shutdown_request, then wait
    assert not manager.is_alive()
    manager = KernelManager(kernel_name=EHR, kernel_spec_manager=spec_manager())
    manager.start_kernel()
    kc2 = manager.client()
    kc2.start_channels()
    kc2.wait_for_ready(timeout=60)
    pid = manager.provisioner.pid
    manager._kill_kernel()  # what shutdown_kernel(now=True) does: SIGKILL to the process group
    for _ in range(500):
        if not manager.is_alive():
            break
        time.sleep(0.01)
    assert not manager.is_alive()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    kc2.stop_channels()
    manager.cleanup_resources()


def test_a_kernel_that_exits_is_seen_dead_by_poll(km: Any) -> None:
    manager, kc = km
    kc.execute("import os; os._exit(7)")
    for _ in range(500):
        if not manager.is_alive():
            break
        time.sleep(0.01)
    assert not manager.is_alive()
    assert asyncio.run(manager.provisioner.poll()) == 7


@pytest.mark.slow
async def test_concurrent_starts_get_their_own_sockets_and_processes(ehr: Path) -> None:
    kms = [AsyncKernelManager(kernel_name=EHR, kernel_spec_manager=spec_manager()) for _ in range(4)]
    await asyncio.gather(*(k.start_kernel() for k in kms))
    try:
        infos = [k.get_connection_info() for k in kms]
        assert len({i["ip"] for i in infos}) == 4
        assert len({k.provisioner.pid for k in kms}) == 4
        outs = []
        for k in kms:
            kc = k.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=60)
            reply = await kc.execute_interactive("import os; print(os.getuid(), len(patients))", timeout=30,
                                                 output_hook=lambda m: outs.append(m["content"].get("text", "")))
            assert reply["content"]["status"] == "ok"
            kc.stop_channels()
        uids = {line.split()[0] for line in "".join(outs).splitlines()}
        assert len(uids) == 4 or os.geteuid() != 0  # one uid per kernel when we can switch uids
    finally:
        await asyncio.gather(*(k.shutdown_kernel(now=True) for k in kms))


def test_ordinary_launch_when_fork_is_disabled(ehr: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERNELGYM_FORK", "0")
    manager = KernelManager(kernel_name=EHR, kernel_spec_manager=spec_manager())
    manager.start_kernel()
    kc = manager.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        assert not manager.provisioner.forked and manager.provisioner.process is not None
        assert run_code(kc, "print(len(patients) > 0)") == ("ok", "True\n")
    finally:
        kc.stop_channels()
        manager.shutdown_kernel(now=True)


def _zygote_of(pid: int) -> Any:
    from kernelgym.runtime import forkclient

    [zygote] = [z for z in forkclient.live_zygotes() if pid in z.ping()["kernels"]]
    return zygote


def test_zygote_has_the_data_loaded_and_no_host_side_modules(km: Any) -> None:
    import psutil

    manager, kc = km
    zygote = _zygote_of(manager.provisioner.pid)
    info = zygote.ping()
    assert "patients" in info["names"] and info["prebuilt"] is True  # the kernel application was built in it
    assert psutil.Process(manager.provisioner.pid).ppid() == zygote.proc.pid
    status, out = run_code(kc, "import sys; print(sorted(m for m in sys.modules if m.startswith('kernelgym')))")
    loaded = set(eval(out))
    assert not loaded & {"kernelgym.tasks", "kernelgym.families", "kernelgym.grading", "kernelgym.episode",
                         "kernelgym.runtime.profiles", "kernelgym.runs.runner"}


def test_a_prebuilt_kernel_is_its_own_process_not_a_copy_of_the_zygote(km: Any) -> None:
    """Kernels forked from one prebuilt application must not share its identity or random state."""
    manager, kc = km
    code = ("import os, numpy as np\nip = get_ipython()\n"
            "print(os.environ['KERNELGYM_FORKED'], ip.kernel.session.session, ip.kernel.ident, np.random.rand(),"
            " os.getcwd() == ip.starting_dir == os.environ['HOME'], ip.execution_count, 'patients' in ip.user_ns_hidden)")
    first = run_code(kc, code)[1].split()
    other = KernelManager(kernel_name=EHR, kernel_spec_manager=spec_manager())
    other.start_kernel()
    kc2 = other.client()
    kc2.start_channels()
    try:
        kc2.wait_for_ready(timeout=60)
        second = run_code(kc2, code)[1].split()
    finally:
        kc2.stop_channels()
        other.shutdown_kernel(now=True)
    assert first[0] == second[0] == "prebuilt"
    assert first[1] != second[1] and first[2] != second[2] and first[3] != second[3]
    assert first[4:] == second[4:] == ["True", "2", "True"]  # as in a cold kernel: the first cell sees 2


@pytest.mark.slow
def test_a_spare_child_serves_the_next_request_with_the_same_sandbox_plan(km: Any) -> None:
    """The zygote forks a half-sandboxed spare while idle; a request with another plan gets a fresh
    fork, and the next spare is prepared for the new plan. (Without a private /tmp, two kernels in a
    row once collided on their connection file: every kernel is PID 1 of its own namespace.)"""
    manager, _ = km
    zygote = _zygote_of(manager.provisioner.pid)

    def spare() -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while zygote.ping()["spare"] is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return zygote.ping()

    other = {"KERNELGYM_SANDBOX_NETWORK": "1", "KERNELGYM_SANDBOX_FS": "0"}
    for env, uses_spare in (({}, True), (other, False), (other, True)):
        info = spare()
        assert info["spare"] is not None
        kernel = KernelManager(kernel_name=EHR, kernel_spec_manager=spec_manager())
        kernel.start_kernel(env={**os.environ, **env})
        kc = kernel.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            status, out = run_code(kc, "import os; print(os.environ['KERNELGYM_SANDBOX_APPLIED'], len(patients))")
            assert status == "ok" and int(out.split()[1]) > 0
            applied = out.split()[0].split(",")
            assert ("network-namespace" in applied) is not env and ("mount-namespace+pivot_root" in applied) is not env
            assert (zygote.ping()["spares_used"] == info["spares_used"] + 1) is uses_spare
            assert (kernel.provisioner.pid == info["spare"]) is uses_spare
        finally:
            kc.stop_channels()
            kernel.shutdown_kernel(now=True)


def test_papermill_runs_an_episode_notebook_on_the_forked_path(ehr: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """papermill on a saved episode notebook (kernelspec ``kernelgym-ehr``, found through the installed
    kernelspecs like any Jupyter front end) gets a kernel forked from the zygote, in its sandbox."""
    import papermill
    import psutil

    from kernelgym.agents import load_agent
    from kernelgym.episode import run_episode
    from kernelgym.runtime import forkclient
    from kernelgym.runtime.profiles import install_kernelspecs
    from kernelgym.tasks import select

    install_kernelspecs(user=True)  # JUPYTER_DATA_DIR points into the test's home
    result, nb = asyncio.run(run_episode(select("ehr", split="test", limit=1)[0], load_agent("reference")()))
    assert result.passed
    nb.cells.append(nbformat.v4.new_code_cell(
        "import os\nprint(os.environ.get('KERNELGYM_FORKED'), os.getpid(), os.environ.get('KERNELGYM_SANDBOX_APPLIED'))"))
    nbformat.write(nb, tmp_path / "episode.ipynb")
    launched: list[tuple[type, bool, int]] = []
    original = ForkServerProvisioner.launch_kernel

    async def spy(self: ForkServerProvisioner, cmd: list[str], **kw: Any) -> Any:
        info = await original(self, cmd, **kw)
        launched.append((type(self), self.forked, psutil.Process(self.pid).ppid()))
        return info

    monkeypatch.setattr(ForkServerProvisioner, "launch_kernel", spy)
    papermill.execute_notebook(str(tmp_path / "episode.ipynb"), str(tmp_path / "out.ipynb"), progress_bar=False)
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert out.metadata.kernelspec.name == EHR
    forked, pid, applied = out.cells[-1].outputs[0]["text"].split()
    assert forked in ("prebuilt", "forked") and pid == "1"  # PID 1 of its own PID namespace
    assert "mount-namespace+pivot_root" in applied.split(",")
    zygotes = {z.proc.pid for z in forkclient.live_zygotes()}
    assert len(launched) == 1 and launched[0][:2] == (ForkServerProvisioner, True) and launched[0][2] in zygotes


async def test_pool_hands_each_kernel_to_exactly_one_episode_and_refills(ehr: Path) -> None:
    from kernelgym.runtime.pool import SPARE, KernelPool

    pool = KernelPool("ehr", 1)  # for 1 episode at once: 1 kernel alive + SPARE ready
    full = 1 + SPARE

    async def settle(ready: int) -> None:
        for _ in range(600):
            if pool.ready == ready and not pool._starting:
                return
            await asyncio.sleep(0.05)

    pool.start()
    try:
        await settle(full)
        assert pool.ready == full
        kernels = [await pool.checkout() for _ in range(full + 1)]  # the last one is started on demand
        assert pool.misses == 1
        assert len({k.km.provisioner.pid for k in kernels}) == full + 1
        assert len({str(k.cwd) for k in kernels}) == full + 1
        reply = await kernels[0].kc.execute_interactive("print(len(patients))", timeout=30)
        assert reply["content"]["status"] == "ok"
        await asyncio.sleep(0.3)
        assert pool.ready == 0 and not pool._starting  # sized to what is in flight: no kernel beyond them
        for k in kernels[:2]:
            await k.discard()
        await settle(1)
        assert pool.ready == 1  # 4 out, 2 released: room for one more (3 alive)
        for k in kernels[2:]:
            await k.discard()
        await settle(full)
        assert pool.ready == full
    finally:
        await pool.close()


@pytest.mark.slow
def test_kill_9_of_a_running_kernelgym_run_leaves_no_kernel_behind(ehr: Path, tmp_path: Path) -> None:
    """`kill -9` of `kernelgym run` with 8 busy kernels (each with a child of its own) must not
    leave a kernel, a kernel's child, a spare or the fork server running 10 s later."""
    pid, tree = kill_9_busy_run(tmp_path / "run", busy=8)
    kernels = [p for p in tree if _name(p).startswith("python") and p.ppid() != pid]
    assert len(kernels) >= 8  # + warm pool kernels and the spare
    assert wait_gone(tree, timeout=10) == []
    from kernelgym.runtime.tempdirs import sweep

    sweep()  # the killed run's folders (a later run sweeps them too): clean up what the test made


def test_stale_installed_kernelspecs_are_refreshed(kg_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ensure_kernelspecs_installed` once compared argv only: a kernelspec installed before the
    provisioner existed (no metadata.kernel_provisioner), or with an older preload, stayed in place
    and papermill / JupyterLab got ordinary, unsandboxed kernels or stale data code."""
    from kernelgym.runtime import profiles

    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))  # leave the real environment alone
    profiles.install_kernelspecs(user=True)  # JUPYTER_DATA_DIR: the test session's home
    folder = Path(profiles.installed_kernelspecs()[EHR])
    assert folder.parent == kg_home / "jupyter" / "kernels" and profiles._is_current("ehr", str(folder))
    spec = json.loads((folder / "kernel.json").read_text())
    del spec["metadata"]["kernel_provisioner"]
    (folder / "kernel.json").write_text(json.dumps(spec))
    assert not profiles._is_current("ehr", str(folder))
    profiles.ensure_kernelspecs_installed()
    assert profiles._is_current("ehr", str(folder))
    (folder / "preload.py").write_text("# an older preload\n")
    profiles.ensure_kernelspecs_installed()
    assert profiles._is_current("ehr", str(folder))
    assert (tmp_path / "prefix" / "share" / "jupyter" / "kernels" / EHR / "kernel.json").is_file()


@pytest.mark.slow
def test_sandboxed_kernels_start_when_TMPDIR_is_not_tmp(ehr: Path, tmp_path: Path) -> None:
    """Regression: with ``TMPDIR`` pointing elsewhere than /tmp, every sandboxed kernel died before
    replying to kernel_info (the prebuilt app's profile folder was under the zygote's run folder in
    TMPDIR, which is on the kernel's read-only root; only its private /tmp is writable)."""
    elsewhere = tmp_path / "tmpdir"
    elsewhere.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "kernelgym", "run", "--suite", "ehr", "--agent", "reference", "--limit", "2",
         "--out", str(tmp_path / "run"), "--no-progress"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "TMPDIR": str(elsewhere)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert len(results) == 2 and all(r["passed"] for r in results), [r.get("error") for r in results]


BROKEN_FORK_SERVER_PRELOAD = '''
import sys
if getattr(sys.modules["__main__"].__spec__, "name", "") == "kernelgym.runtime.forkserver":
    raise RuntimeError("this fork server is broken")
answer = 42
'''


@pytest.fixture
def broken_fork_server_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec of the provisioner whose preload fails in the fork server only: an ordinary
    kernel would start fine, unsandboxed."""
    spec = json.loads((Path(spec_manager().get_kernel_spec(EHR).resource_dir) / "kernel.json").read_text())
    folder = tmp_path / "kernels" / "kernelgym-broken"
    folder.mkdir(parents=True)
    (folder / "preload.py").write_text(BROKEN_FORK_SERVER_PRELOAD)
    spec["argv"] = [a.replace("{resource_dir}/preload.py", str(folder / "preload.py")) for a in spec["argv"]]
    spec["metadata"].pop("kernelgym", None)
    (folder / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    return "kernelgym-broken"


def test_no_kernel_starts_unsandboxed_when_the_fork_server_fails(broken_fork_server_spec: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15 (6): when the fork server failed or was not ready in time, kernels started the
    ordinary way, unsandboxed, with one warning line. Now no kernel starts and the error says how to
    opt out; with ``KERNELGYM_SANDBOX=0`` the same kernelspec starts an ordinary kernel. The refused
    start leaves no socket folder behind (it did until the run's process exited and a later run swept it)."""
    from jupyter_client.kernelspec import KernelSpecManager

    from kernelgym.runtime.sandbox import SandboxUnavailable

    manager = KernelManager(kernel_name=broken_fork_server_spec, kernel_spec_manager=KernelSpecManager())
    with pytest.raises(SandboxUnavailable, match="KERNELGYM_SANDBOX=0") as refused:
        manager.start_kernel()
    assert "fork server is unavailable" in str(refused.value)
    assert not manager.has_kernel
    # nothing calls cleanup after a refused launch: the provisioner removes its socket folder itself
    assert manager.transport == "ipc" and not os.path.exists(os.path.dirname(manager.ip))

    monkeypatch.setenv("KERNELGYM_SANDBOX", "0")
    manager = KernelManager(kernel_name=broken_fork_server_spec, kernel_spec_manager=KernelSpecManager())
    manager.start_kernel()
    kc = manager.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        assert not manager.provisioner.forked
        assert run_code(kc, "print(answer)") == ("ok", "42\n")
    finally:
        kc.stop_channels()
        manager.shutdown_kernel(now=True)


async def test_kernelgym_reports_a_refused_sandbox_as_a_failed_start(broken_fork_server_spec: str) -> None:
    """What runs see of the refusal: a ``KernelStartError`` that names the opt-out (episodes end
    ``kernel_start_failed`` with it), never a kernel without its sandbox."""
    from jupyter_client.kernelspec import KernelSpecManager

    from kernelgym.runtime.kernel_manager import KernelStartError, start_kernel

    with pytest.raises(KernelStartError, match="KERNELGYM_SANDBOX=0"):
        await start_kernel(broken_fork_server_spec, kernel_spec_manager=KernelSpecManager(), timeout=60)


def test_running_out_of_descriptors_is_recognised_as_such_in_the_errors_a_start_raises() -> None:
    """Issue 19: one episode of 128 in flight under `ulimit -n 1024` ended as a harness error,
    "zmq.error.ZMQError: Too many open files", in about one run in five: kernel starts briefly hold
    more descriptors than the steady state. A start that runs out now tries again
    (kernel_manager.START_RETRIES_OUT_OF_DESCRIPTORS); this pins that the errors a start really raises
    when out of descriptors (ZMQError from a socket, OSError from a pipe), also when wrapped, are told
    apart from other failures. Made for real, in a process limited to 64 files."""
    code = r'''
import json, os, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
import zmq
from kernelgym.runtime.kernel_manager import KernelStartError, out_of_descriptors
found = {}
ctx, held = zmq.Context(), []
try:
    while True:
        held.append(ctx.socket(zmq.DEALER))
except zmq.ZMQError as exc:
    found["zmq"] = out_of_descriptors(exc)
    try:
        raise KernelStartError("the ehr kernel did not start") from exc
    except KernelStartError as wrapped:
        found["wrapped"] = out_of_descriptors(wrapped)
try:
    while True:
        held.append(os.pipe())
except OSError as exc:
    found["pipe"] = out_of_descriptors(exc)
found["other"] = out_of_descriptors(RuntimeError("Kernel didn't respond in 120 seconds"))
print(json.dumps(found))
'''
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"zmq": True, "wrapped": True, "pipe": True, "other": False}


async def test_shutting_a_kernel_down_makes_no_socket_and_a_retired_pool_starts_none(ehr: Path) -> None:
    """Two leaks of descriptors and CPU at the end of episodes (issue 19; at 128 episodes ending at once
    under ``ulimit -n 1024`` they ended episodes with "Too many open files" in their shutdown):
    jupyter_client's ``stop_channels`` made a stdin and a control socket to ask whether they were alive,
    and a pool kept starting kernels for workers that had no episode left."""
    from kernelgym.runtime.pool import KernelPool

    pool = KernelPool("ehr", 2)
    pool.start()
    try:
        kernel = await pool.checkout()
        kc = kernel.kc
        await kernel.discard()
        assert kc._stdin_channel is None and kc._control_channel is None and kc._hb_channel is None
        assert kc._shell_channel is not None and not kc._shell_channel.is_alive()
        pool.retire()
        pool.retire()
        for _ in range(200):  # the starts already under way end
            if not pool._starting:
                break
            await asyncio.sleep(0.05)
        started = pool.ready + pool._out
        await asyncio.sleep(0.5)
        assert pool.ready + pool._out + pool._starting == started  # nothing new once retired
        assert pool._target() == 0
    finally:
        await pool.close()
