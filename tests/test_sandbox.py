"""The sandbox of every forked kernel: what an adversarial cell cannot do to the host.

Each test is one attack a cheating agent could try from its kernel; each must fail inside the
kernel (or kill only that kernel) while the host and the other kernels go on.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

from kernelgym.profiles import kernel_name, spec_manager
from kernelgym.sandbox import SandboxConfig, parse_size, probe
from test_forkserver import ensure_ehr_data, run_code

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux")


@pytest.fixture(scope="module")
def secrets(kg_home: Path) -> dict[str, Path]:
    """Host files an agent would love to read: the task store and a ground-truth file."""
    ensure_ehr_data()
    store = kg_home / "tasks"
    store.mkdir(exist_ok=True)
    truth = store / "ground_truth.json"
    truth.write_text('{"ehr/demo/00000": 42}')
    os.chmod(truth, 0o644)  # world-readable on purpose: only the sandbox stands between it and the agent
    return {"store": store, "truth": truth}


@pytest.fixture(scope="module")
def kernel(secrets: dict[str, Path]) -> Any:
    km = KernelManager(kernel_name=kernel_name("ehr"), kernel_spec_manager=spec_manager())
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    yield km, kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def expect_failure(kc: Any, code: str) -> str:
    status, out = run_code(kc, code)
    assert status == "error", out
    return out


def test_the_task_store_and_ground_truth_are_not_in_the_view(kernel: Any, secrets: dict[str, Path]) -> None:
    _, kc = kernel
    expect_failure(kc, f"open({str(secrets['truth'])!r}).read()")
    expect_failure(kc, f"import os; os.listdir({str(secrets['store'])!r})")
    # the profile's data stays readable, but not writable
    status, out = run_code(kc, "from kernelgym.kernel.ehr import data_path\nprint(sorted(p.name for p in data_path().iterdir())[:1])")
    assert status == "ok" and out.strip() != "[]"
    expect_failure(kc, "from kernelgym.kernel.ehr import data_path\nopen(data_path() / 'manifest.json', 'a').write('x')")


def test_task_generators_and_host_side_code_cannot_be_imported(kernel: Any) -> None:
    _, kc = kernel
    for module in ("kernelgym.tasks", "kernelgym.families", "kernelgym.grading", "kernelgym.episode"):
        assert "ModuleNotFoundError" in expect_failure(kc, f"import {module}")
    repo = Path(__file__).resolve().parents[1]
    expect_failure(kc, f"open({str(repo / 'kernelgym' / 'tasks.py')!r}).read()")
    expect_failure(kc, f"import os; os.listdir({str(repo / 'task_specs')!r})")


def test_other_processes_memory_and_environment_are_out_of_reach(kernel: Any) -> None:
    _, kc = kernel
    owner = os.getpid()
    expect_failure(kc, f"open('/proc/{owner}/environ').read()")
    expect_failure(kc, f"open('/proc/{owner}/mem', 'rb').read(1)")
    status, out = run_code(kc, "import os; print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))")
    assert status == "ok" and str(owner) not in out.split("[")[1].replace(",", " ").split()


def test_no_network(kernel: Any) -> None:
    _, kc = kernel
    expect_failure(kc, "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=3)")
    expect_failure(kc, "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=3)")


def test_a_huge_allocation_raises_memory_error_and_the_kernel_lives_on(kernel: Any) -> None:
    _, kc = kernel
    assert "MemoryError" in expect_failure(kc, "import numpy as np\na = np.ones(50 * 1024**3, dtype=np.uint8)")
    assert run_code(kc, "print(len(patients) > 0)") == ("ok", "True\n")


def test_the_kernel_cannot_kill_its_owner_or_undo_its_limits(kernel: Any) -> None:
    _, kc = kernel
    owner = os.getpid()
    out = expect_failure(kc, f"import os, signal\nos.kill({owner}, signal.SIGKILL)")
    assert "ProcessLookupError" in out or "PermissionError" in out
    expect_failure(kc, "import resource\nresource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY,) * 2)")
    expect_failure(kc, "import os\nos.setuid(0)")
    assert os.getpid() == owner  # still here


def test_a_fork_bomb_is_contained(secrets: dict[str, Path]) -> None:
    km = KernelManager(kernel_name=kernel_name("ehr"), kernel_spec_manager=spec_manager())
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        bomb = (
            "import os, time\nn = 0\ntry:\n    for _ in range(100000):\n        if os.fork() == 0:\n"
            "            time.sleep(60); os._exit(0)\n        n += 1\nexcept OSError as e:\n    print('stopped at', n, e.errno)"
        )
        status, out = run_code(kc, bomb, timeout=120)
        assert status == "ok" and out.startswith("stopped at"), out
        assert int(out.split()[2]) <= SandboxConfig().max_processes
        uid = _uid(str(km.provisioner.pid))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    # the bomb's processes died with the kernel (they lived in its PID namespace)
    deadline = time.monotonic() + 10
    while uid and _uid_processes(uid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not uid or _uid_processes(uid) == []


def _uid(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _uid_processes(uid: int) -> list[str]:
    return [p for p in os.listdir("/proc") if p.isdigit() and _uid(p) == uid]


def test_sandbox_settings_come_from_the_kernelspec_and_the_environment() -> None:
    cfg = SandboxConfig.from_env({"memory_bytes": 123, "network": True}, env={"KERNELGYM_MEMORY_LIMIT": "2G"})
    assert cfg.memory_bytes == 2 * 1024**3 and cfg.network is True
    assert SandboxConfig.from_env(env={"KERNELGYM_SANDBOX": "0"}).enabled is False
    assert parse_size("512M") == 512 * 1024**2 and parse_size("100") == 100
    assert probe()["fork"] is True
