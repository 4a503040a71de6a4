"""Fork server, provisioner and warm pool: real zygotes, real KernelManager / nbclient / papermill."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager, KernelManager

from kernelgym.profiles import kernel_name, spec_manager
from kernelgym.provisioner import ForkServerProvisioner

EHR = kernel_name("ehr")


def ensure_ehr_data() -> Path:
    """The test session's EHR data set (conftest's builder; a tiny stand-in while it is unavailable)."""
    from kernelgym.kernel.paths import dataset_dir

    root = dataset_dir("ehr")
    if (root / "manifest.json").is_file():
        return root
    try:
        from kernelgym.datasets.ehr import build_ehr
    except ImportError:
        import pandas as pd

        root.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"subject_id": range(120), "gender": ["M", "F"] * 60}).to_parquet(root / "patients.parquet")
        pd.DataFrame({"subject_id": range(120), "hadm_id": range(1000, 1120)}).to_parquet(root / "admissions.parquet")
        (root / "manifest.json").write_text(json.dumps({"fingerprint": "stand-in"}))
        return root
    build_ehr(patients=120, seed=0)
    return root


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


def test_interrupt_restart_shutdown_and_kill_behave_as_jupyter_client_expects(km: Any) -> None:
    manager, kc = km
    run_code(kc, "x = 41")
    kc.execute("import time\nwhile True:\n    time.sleep(0.01)")
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


def test_zygote_has_the_data_loaded_and_no_host_side_modules(ehr: Path) -> None:
    from kernelgym import forkserver

    manager = KernelManager(kernel_name=EHR, kernel_spec_manager=spec_manager())
    manager.start_kernel()
    try:
        [zygote] = [z for z in forkserver._zygotes.values() if z.alive() and z.key[0] == os.getpid()
                    and z.key[2] == os.environ["KERNELGYM_HOME"]]
        info = zygote.ping()
        assert "patients" in info["names"] and manager.provisioner.pid in info["kernels"]
        kc = manager.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        status, out = run_code(kc, "import sys; print(sorted(m for m in sys.modules if m.startswith('kernelgym')))")
        loaded = set(eval(out))
        assert not loaded & {"kernelgym.tasks", "kernelgym.families", "kernelgym.grading", "kernelgym.episode",
                             "kernelgym.profiles", "kernelgym.runner"}
        kc.stop_channels()
    finally:
        manager.shutdown_kernel(now=True)


def test_papermill_runs_a_notebook_on_the_forked_path(ehr: Path, tmp_path: Path) -> None:
    import papermill

    from kernelgym.profiles import install_kernelspecs

    install_kernelspecs(user=True)  # JUPYTER_DATA_DIR points into the test's home
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": EHR, "display_name": EHR, "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("import os\nprint(os.environ['KERNELGYM_SANDBOX_APPLIED'], len(patients))")]
    nbformat.write(nb, tmp_path / "in.ipynb")
    papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), progress_bar=False, kernel_name=EHR)
    text = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs[0]["text"]
    assert "setsid" in text.split()[0]  # only a forked kernel records its sandbox


async def test_pool_hands_each_kernel_to_exactly_one_episode_and_refills(ehr: Path) -> None:
    from kernelgym.pool import KernelPool

    pool = KernelPool("ehr", 2)
    pool.start()
    try:
        for _ in range(600):
            if pool.ready == 2:
                break
            await asyncio.sleep(0.05)
        assert pool.ready == 2
        a, b, c = [await pool.checkout() for _ in range(3)]  # the third is started on demand
        assert len({k.km.provisioner.pid for k in (a, b, c)}) == 3
        assert len({str(k.cwd) for k in (a, b, c)}) == 3
        reply = await a.kc.execute_interactive("print(len(patients))", timeout=30)
        assert reply["content"]["status"] == "ok"
        for k in (a, b, c):
            await k.discard()
        for _ in range(600):
            if pool.ready == 2:
                break
            await asyncio.sleep(0.05)
        assert pool.ready == 2 and pool.misses >= 1
    finally:
        await pool.close()


OWNER = textwrap.dedent("""
    import asyncio, os, sys
    from kernelgym.pool import KernelPool
    async def main():
        pool = KernelPool("ehr", 0)
        kernels = [await pool.checkout() for _ in range(int(sys.argv[1]))]
        for k in kernels:  # each kernel also starts a long-lived child of its own
            await k.kc.execute_interactive("import subprocess; p = subprocess.Popen(['sleep', '300'])", timeout=30)
        print(" ".join(str(k.km.provisioner.pid) for k in kernels), flush=True)
        await asyncio.sleep(3600)
    asyncio.run(main())
""")


def _kernel_processes(pids: list[int]) -> list[int]:
    """Every live process that is one of ``pids`` or descends from one of them, or is a zombie-free survivor."""
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
    return alive


def _uid_processes(uids: set[int]) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                st = os.stat(f"/proc/{entry}")
            except OSError:
                continue
            if st.st_uid in uids:
                out.append(int(entry))
    return out


def test_kill_9_of_the_owner_leaves_no_kernel_behind(ehr: Path) -> None:
    """A run killed with SIGKILL must not leave kernels (or their children) running."""
    proc = subprocess.Popen([sys.executable, "-c", OWNER, "4"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        pids = [int(p) for p in line.split()]
        assert len(pids) == 4
        uids = {os.stat(f"/proc/{p}").st_uid for p in pids}
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (_kernel_processes(pids) or (uids - {0} and _uid_processes(uids - {0}))):
        time.sleep(0.1)
    assert _kernel_processes(pids) == []
    if uids - {0}:  # the kernels' own children (the sleeps) are gone too
        assert _uid_processes(uids - {0}) == []
