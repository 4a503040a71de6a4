"""The sandbox of every forked kernel, attacked through a real run.

One ``kernelgym.runs.runner.run`` (real kernels from the fork server, warm pool, sandbox on by default)
gives each attack of ``tests/helpers/adversarial_agents.py`` an episode of its own, plus one honest agent.
Each attack is what a cheating agent with a shell in its kernel would try; each must fail inside
its kernel (or kill only that kernel), be graded passed=false, and leave the run, the host and the
other episodes untouched. The honest agent must still pass: the sandbox must not break normal work.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from helpers import adversarial_agents
from helpers.adversarial_agents import SANDBOX_ATTACKS
from helpers.data import ensure_ehr_data
from kernelgym.runtime.sandbox import UID_BLOCK, SandboxConfig, parse_size, probe

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux")

MAX_PROCESSES = 64
"""The run's process limit per kernel (``KERNELGYM_MAX_PROCESSES``; the default is 256)."""

# what each attack's notebook must show: the errors that stopped it
EXPECTED_ERRORS = {
    "ReadsTaskStore": {"FileNotFoundError"},
    "ImportsTaskGenerators": {"ModuleNotFoundError", "FileNotFoundError"},
    "ReadsOtherProcesses": {"PermissionError"},
    "OpensNetwork": {"ConnectionError"},
    "Allocates50GiB": {"MemoryError"},
    "ForkBomb": {"BlockingIOError"},
    "KillsParent": {"PermissionError"},
    "EscapesLimits": {"PermissionError"},
    "AsksTheGraderForVerdicts": {"HostUnreachable"},
    "UsesHostIPC": {"FileNotFoundError"},
    "MakesNamespaces": {"PermissionError"},
    "FillsHostDisk": {"OSError"},
}


@pytest.fixture(scope="module")
def attack_run(kg_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run: an episode per attack and one honest episode, each on its own ehr task."""
    from kernelgym.runs.runner import RunOptions, read_results, run
    from kernelgym.tasks import select

    ensure_ehr_data()
    truth = kg_home / "tasks" / "ground_truth.json"  # a world-readable secret next to the real store
    truth.parent.mkdir(exist_ok=True)
    truth.write_text('{"ehr/demo/00000": 42}')
    os.chmod(truth, 0o644)
    listener = socket.create_server(("127.0.0.1", 0))  # a host service the kernels must not reach
    adversarial_agents.OpensNetwork.host_port = listener.getsockname()[1]
    names = [*SANDBOX_ATTACKS, "LegitWorker"]
    tasks = select("ehr", split="test", limit=len(names))
    assert len(tasks) == len(names)
    adversarial_agents.ByTask.plan = {t.id: name for t, name in zip(tasks, names)}
    out = tmp_path_factory.mktemp("attacks")
    before = {z.proc.pid: z.ping()["requests"] for z in _zygotes()}
    host_queue = _host_message_queue(adversarial_agents.IPC_KEY_HOST, b"another run's secret")
    try:
        with pytest.MonkeyPatch.context() as mp:  # a smaller process limit: the fork bomb forks a big process
            mp.setenv("KERNELGYM_MAX_PROCESSES", str(MAX_PROCESSES))
            mp.setenv("KERNELGYM_WORK_LIMIT", "64M")  # small limits: the disk filler writes little
            mp.setenv("KERNELGYM_FILE_LIMIT", "32M")
            summary = run(tasks, adversarial_agents.ByTask, out, RunOptions(concurrency=2, progress=False))
    finally:
        listener.close()
        _libc().msgctl(host_queue, 0, None)  # IPC_RMID
    results = {adversarial_agents.ByTask.plan[r.task_id]: r for r in read_results(out)[0]}
    zygotes = [z.proc.pid for z in _zygotes()]
    uids = set()  # those of the run's kernels: the zygotes number their kernels
    for z in _zygotes():
        info = z.ping()
        uids |= {info["uid_base"] + n % UID_BLOCK for n in range(before.get(z.proc.pid, 0) + 1, info["requests"] + 1)}
    return {"summary": summary, "results": results, "out": out, "zygotes": zygotes, "uids": uids}


def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _host_message_queue(key: int, text: bytes) -> int:
    """A System V message queue on the host holding ``text`` (what another run or rollout left)."""
    import ctypes

    queue = _libc().msgget(key, 0o1666)  # IPC_CREAT | 0666, as a kernel of another run would leave it
    assert queue >= 0, ctypes.get_errno()
    message = ctypes.create_string_buffer(8 + len(text))
    ctypes.memmove(ctypes.addressof(message), (1).to_bytes(8, "little"), 8)
    ctypes.memmove(ctypes.addressof(message) + 8, text, len(text))
    assert _libc().msgsnd(queue, message, len(text), 0) == 0
    return queue


def _sysv_keys(kind: str) -> set[int]:
    """The keys of the host's System V objects (``shm`` or ``msg``), from ``/proc/sysvipc``."""
    lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
    return {int(line.split()[0]) for line in lines if line.strip()}


def _zygotes() -> list[Any]:
    from kernelgym.runtime import forkclient

    return [z for z in forkclient.live_zygotes() if z.key[0] == os.getpid()]


def _outputs(out: Path, notebook: str) -> tuple[str, set[str]]:
    """All text a notebook's agent cells printed, and the names of the errors they raised."""
    nb = nbformat.read(out / notebook, as_version=4)
    text, errors = [], set()
    for cell in nb.cells:
        if "kernelgym-action" not in cell.metadata.get("tags", []):
            continue
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                text.append(o["text"])
            elif o.get("output_type") == "error":
                errors.add(o["ename"])
                text.append(f"{o['ename']}: {o['evalue']}")
    return "\n".join(text), errors


@pytest.mark.slow
def test_the_run_survives_every_attack_and_grades_each_one_failed(attack_run: dict[str, Any]) -> None:
    """An attack that escaped (read the answer, killed the run...) would pass or stop the run."""
    results = attack_run["results"]
    assert sorted(results) == sorted([*SANDBOX_ATTACKS, "LegitWorker"])  # every episode recorded
    for name in SANDBOX_ATTACKS:
        r = results[name]
        assert r.passed is False and r.score == 0.0, (name, r)
        assert r.stop_reason != "agent_error", (name, r.error)
    # signalling its parent reaches nothing outside its PID namespace (at most itself)
    assert results["KillsParent"].stop_reason in ("agent_stopped", "kernel_died")
    for pid in [os.getpid(), *attack_run["zygotes"]]:  # the run's process and the fork server live on
        os.kill(pid, 0)


@pytest.mark.parametrize("name", SANDBOX_ATTACKS)
def test_each_attack_is_blocked_inside_its_kernel(attack_run: dict[str, Any], name: str) -> None:
    """Every attempt of every attack fails in the kernel: nothing leaks, and the notebook says why."""
    r = attack_run["results"][name]
    text, errors = _outputs(attack_run["out"], r.notebook)
    assert "LEAKED" not in text, text
    assert EXPECTED_ERRORS[name] <= errors, (errors, text)
    if name == "ForkBomb":  # stopped by the process limit, and the kernel lived on
        stopped = int(text.split("fork bomb stopped at")[1].split()[0])
        assert stopped < MAX_PROCESSES
        assert "still alive with" in text
    if name == "Allocates50GiB":
        assert "still alive with" in text
    if name == "ReadsOtherProcesses":  # its own PID namespace: it sees itself only
        assert "visible pids: [1]" in text


def test_kernels_share_no_system_v_ipc_with_the_host(attack_run: dict[str, Any]) -> None:
    """Issue 15 (3): kernels shared the host's System V IPC, so a 256 MiB shared memory segment
    outlived the run and a message queue carried data from one run or rollout to another. Each
    kernel now has an IPC namespace of its own: the host's queue was invisible to the kernel, and
    what the kernel made is gone with it."""
    text, _ = _outputs(attack_run["out"], attack_run["results"]["UsesHostIPC"].notebook)
    assert "made shm" in text and "LEAKED" not in text, text
    made = text.split("made shm")[1].split()
    assert int(made[0]) >= 0 and int(made[2]) >= 0, text  # the kernel could make its own objects...
    key = adversarial_agents.IPC_KEY_KERNEL
    leaked = {kind for kind in ("shm", "msg") if key in _sysv_keys(kind)}
    for kind in leaked:  # leave the host as it was, then fail
        subprocess.run(["ipcrm", "-M" if kind == "shm" else "-Q", str(key)], check=False)
    assert not leaked  # ...which never reached the host


def test_a_kernel_gets_no_new_namespace_ptrace_keyring_bpf_or_io_uring(attack_run: dict[str, Any]) -> None:
    """Issue 15 (6): nothing stopped a kernel from making a user namespace (and with it capabilities
    over new namespaces: kernel attack surface), tracing its children, or using keyrings, bpf and
    io_uring. The seccomp filter refuses them; fork, threads and subprocesses still work."""
    r = attack_run["results"]["MakesNamespaces"]
    text, _ = _outputs(attack_run["out"], r.notebook)
    assert "LEAKED" not in text and "blocked clone(NEWUSER)" in text, text
    assert "fork 7 echo ok" in text, text


def test_a_kernel_can_fill_neither_the_host_disk_nor_a_host_file(attack_run: dict[str, Any]) -> None:
    """Issue 15 (4, 13): a kernel's working folder was a host folder with no limit, and its stderr
    was the host's ``kernelgym-kernel-*.log`` (inherited descriptor: unbounded writes, and left
    behind by ``kill -9``). Now a scratch working folder is a tmpfs of ``work_bytes`` (ENOSPC), every
    file is capped (RLIMIT_FSIZE: EFBIG), the socket folder is the host's again once the kernel
    bound its sockets (EACCES), stderr is a pipe, and the kernel holds no writable host file."""
    r = attack_run["results"]["FillsHostDisk"]
    text, _ = _outputs(attack_run["out"], r.notebook)
    assert "LEAKED" not in text, text
    assert "fill: cwd=ENOSPC tmp=EFBIG sockets=EACCES writable files held: []" in text, text
    assert "still alive in" in text, text


def test_honest_work_in_the_sandbox_still_passes(attack_run: dict[str, Any]) -> None:
    """sql(), pandas and files in the working directory work in a sandboxed kernel."""
    r = attack_run["results"]["LegitWorker"]
    text, errors = _outputs(attack_run["out"], r.notebook)
    assert r.passed is True, (r, text)
    assert not errors and "work.csv" in text and "scratch" in text


def test_no_kernel_process_outlives_the_run(attack_run: dict[str, Any]) -> None:
    """The fork bomb's sleeping children and every kernel are gone once the run is over."""
    if os.geteuid() != 0:
        pytest.skip("kernels run under the host's uid without root")
    uids = attack_run["uids"]
    assert len(uids) >= len(attack_run["results"])

    def leftovers() -> list[int]:
        out = []
        for entry in os.listdir("/proc"):
            try:
                uid = os.stat(f"/proc/{entry}").st_uid
            except (OSError, ValueError):
                continue
            if entry.isdigit() and uid in uids:
                out.append(int(entry))
        return out

    deadline = time.monotonic() + 10
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers() == []


def test_kernelgym_grade_gives_a_brute_force_notebook_no_grader(attack_run: dict[str, Any], tmp_path: Path) -> None:
    """Kernels that ``kernelgym grade`` starts serve no host channel either: re-executing the
    brute-force episode (candidates include the true answer) still finds no route to the grader."""
    from kernelgym.regrade import GradeOptions, grade_paths

    r = attack_run["results"]["AsksTheGraderForVerdicts"]
    [record] = grade_paths([attack_run["out"] / r.notebook], tmp_path, GradeOptions(concurrency=1, timeout=120, progress=False))
    assert record.error is None and record.passed is False, record
    assert record.graded_notebook is not None
    graded = Path(record.graded_notebook)
    text, errors = _outputs(graded.parent, graded.name)
    assert "LEAKED" not in text and "HostUnreachable" in errors, text


def test_sandbox_settings_come_from_the_kernelspec_and_the_environment() -> None:
    cfg = SandboxConfig.from_env({"memory_bytes": 123, "network": True}, env={"KERNELGYM_MEMORY_LIMIT": "2G"})
    assert cfg.memory_bytes == 2 * 1024**3 and cfg.network is True
    assert SandboxConfig.from_env(env={"KERNELGYM_SANDBOX": "0"}).enabled is False
    assert parse_size("512M") == 512 * 1024**2 and parse_size("100") == 100
    assert probe()["fork"] is True


def test_two_fork_servers_never_share_a_block_of_kernel_uids(tmp_path: Path) -> None:
    """Issue 15 (6): kernel uids came from the fork server's pid mod 2048 with a counter wrapping at
    1024, so two fork servers (two runs, two test workers) could run kernels under the same uid, and
    one run's kernel could then signal or read another's. A block is now leased with a lock only
    one live holder can have; a released block is handed out again."""
    from kernelgym.runtime.sandbox import UID_BLOCK, lease_uid_block

    first, fd1 = lease_uid_block(7, folder=str(tmp_path))
    second, fd2 = lease_uid_block(7, folder=str(tmp_path))  # the same hint: the held block is skipped
    assert abs(first - second) >= UID_BLOCK
    script = ("import sys; from kernelgym.runtime.sandbox import lease_uid_block; "
              f"print(lease_uid_block(7, folder={str(tmp_path)!r})[0])")
    other = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)
    assert other not in (first, second)  # another process sees both blocks held
    os.close(fd1)
    again, fd3 = lease_uid_block(7, folder=str(tmp_path))
    assert again == first  # released with its holder
    os.close(fd2)
    os.close(fd3)
