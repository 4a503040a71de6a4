"""Temp folders that name their owner, and the sweep at run start that removes those of dead owners.

Real processes throughout: folders are made by child Python processes that exit, sleep, or are
killed with SIGKILL; the last test kills a real `kernelgym run` in the middle of an episode.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernelgym.runtime.tempdirs import (
    Owner,
    current_owner,
    owned_tempdir,
    parse_owner,
    socket_parent,
    sweep,
)

pytestmark = [pytest.mark.kernel]

MAKE_DIR = "import sys\nfrom kernelgym.runtime.tempdirs import owned_tempdir\nprint(owned_tempdir(sys.argv[1], sys.argv[2]), flush=True)\n"


@pytest.fixture
def root() -> Iterator[Path]:
    """A temp folder of the test's own, so that no other process's folders are ever touched."""
    path = Path(tempfile.mkdtemp(prefix="kgt-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def made_by_child(root: Path, kind: str = "episode", wait: bool = False) -> tuple[Path, subprocess.Popen[str]]:
    """A folder made by a child process; with ``wait`` the child stays alive (reading stdin) afterwards."""
    code = MAKE_DIR + ("sys.stdin.read()\n" if wait else "")
    proc = subprocess.Popen([sys.executable, "-c", code, kind, str(root)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    path = Path(proc.stdout.readline().strip())
    if not wait:
        proc.wait(timeout=30)
    return path, proc


def test_folder_of_a_dead_owner_is_swept_and_of_a_live_owner_kept(root: Path) -> None:
    """A run killed with SIGKILL left its /tmp/kernelgym-episode-* folders behind for good. The sweep
    must remove a folder whose owner is gone, and never one whose owner still runs."""
    dead, _ = made_by_child(root)
    live, sleeper = made_by_child(root, wait=True)
    mine = owned_tempdir("episode", root)
    try:
        assert dead.is_dir() and live.is_dir()
        assert parse_owner(live.name) == ("episode", Owner(sleeper.pid, *_rest(sleeper.pid)))
        assert sweep(root) == [dead]
        assert not dead.exists() and live.is_dir() and mine.is_dir()
        sleeper.send_signal(signal.SIGKILL)  # as `kill -9` of a run: no cleanup code runs
        sleeper.wait(timeout=30)
        assert live.is_dir()
        assert sweep(root) == [live]
        assert mine.is_dir()
    finally:
        sleeper.kill()
        sleeper.wait()


def _rest(pid: int) -> tuple[int, int, str]:
    """(start, pidns, boot) of a live process of this test."""
    from kernelgym.runtime.tempdirs import process_start

    me = current_owner()
    assert me is not None
    start = process_start(pid)
    assert start is not None
    return start, me.pidns, me.boot


def test_only_provably_abandoned_folders_are_swept(root: Path) -> None:
    """The sweep must not guess: a folder of another boot or PID namespace (another machine or
    container sharing /tmp), of an unknown kind, without an owner in its name, or not a folder is
    kept; a folder whose pid now belongs to a process started later (pid reuse) is removed."""
    me = current_owner()
    assert me is not None

    def named(kind: str, owner: Owner, suffix: str = "abcd1234") -> Path:
        path = root / f"kernelgym-{kind}-{owner.token()}-{suffix}"
        path.mkdir()
        return path

    reused = named("episode", Owner(me.pid, me.start - 1, me.pidns, me.boot))  # same pid, another process
    zygote = named("zygote", Owner(me.pid, me.start - 1, me.pidns, me.boot))
    other_boot = named("episode", Owner(me.pid, me.start - 1, me.pidns, "0" * 8 if me.boot != "0" * 8 else "1" * 8))
    other_ns = named("episode", Owner(me.pid, me.start - 1, me.pidns + 1, me.boot))
    other_kind = named("bench", Owner(me.pid, me.start - 1, me.pidns, me.boot))
    legacy = root / "kernelgym-episode-0c0m5wqy"
    legacy.mkdir()
    a_file = root / f"kernelgym-episode-{Owner(me.pid, me.start - 1, me.pidns, me.boot).token()}-file0000"
    a_file.write_text("")
    target = named("grade", Owner(me.pid, me.start, me.pidns, me.boot))  # mine: alive
    link = root / f"kernelgym-grade-{Owner(me.pid, me.start - 1, me.pidns, me.boot).token()}-link0000"
    link.symlink_to(target)

    assert sorted(sweep(root)) == sorted([reused, zygote])
    for kept in (other_boot, other_ns, other_kind, legacy, a_file, target, link):
        assert os.path.lexists(kept), kept
    assert sweep(root, kinds=("grade",)) == []  # the symlink is not followed, its target is alive


def test_a_closed_fork_server_leaves_no_run_folder(tmp_path: Path) -> None:
    """`ZygoteHandle.close()` stops the fork server with SIGKILL, so the server never ran its own
    cleanup and every run left a /tmp/kernelgym-zygote-* folder behind (hundreds piled up)."""
    from kernelgym.runtime.forkclient import ZygoteHandle

    preload = tmp_path / "preload.py"
    preload.write_text("x = 1\n")
    z = ZygoteHandle(("test", str(preload)), [str(preload)], dict(os.environ))
    try:
        asyncio.run(z.ready(120))
        mine = [p for p in Path(tempfile.gettempdir()).glob("kernelgym-zygote-*")
                if (parsed := parse_owner(p.name)) is not None and parsed[1].pid == z.proc.pid]
        assert len(mine) == 1 and mine[0].is_dir()
    finally:
        z.close()
    assert not mine[0].exists()


@pytest.mark.slow
def test_a_kernelgym_run_killed_mid_episode_leaves_a_folder_the_next_run_removes(
    ehr_data: Path, tmp_path: Path,
) -> None:
    """`kill -9` of `kernelgym run` during an episode left its kernelgym-episode-* working folder in
    the temp folder forever; the next run must remove it when it starts (and no folder of the killed
    run's fork server may be left either)."""
    from helpers.processes import kill_9_busy_run, wait_gone
    from kernelgym.runs.runner import RunOptions, run_async

    pid, tree = kill_9_busy_run(tmp_path / "run", busy=1)
    # a folder is swept once its owner is gone: wait for the killed run's processes (a loaded machine
    # takes longer than 20 s to let every one of them die, and the sweep then rightly kept their folders)
    assert wait_gone(tree, timeout=90) == []
    killed = {pid} | {p.pid for p in tree}

    def left(kind: str) -> list[Path]:
        return [p for base in {tempfile.gettempdir(), "/tmp", socket_parent()} for p in Path(base).glob(f"kernelgym-{kind}-*")
                if (parsed := parse_owner(p.name)) is not None and parsed[1].pid in killed]

    assert len(left("episode")) == 1  # what the bug left behind for good
    assert len(left("ipc")) >= 1 and len(left("work")) >= 1  # the provisioner's socket folder too (warm pool)
    assert len(left("fs")) >= 1  # the fork server's socket folder (kernelgym-fs-*: left for good before)
    asyncio.run(run_async([], lambda: None, tmp_path / "next", RunOptions(progress=False)))  # type: ignore[arg-type, return-value]
    assert left("episode") == [] and left("ipc") == [] and left("work") == [] and left("fs") == []
    assert left("zygote") == []



def _deep_tree(root: Path, depth: int) -> None:
    root.mkdir()
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):  # relative to a descriptor: the full path would exceed PATH_MAX
            os.mkdir("d", dir_fd=fd)
            nxt = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        os.close(os.open("f", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    finally:
        os.close(fd)


def test_a_tree_3000_deep_is_removed_and_the_sweep_never_raises(tmp_path: Path) -> None:
    """Issue 15 (5): a 3,000-deep folder left by a kernel survived cleanup (``shutil.rmtree`` raised
    RecursionError, which ``ignore_errors`` does not catch), and the sweep then crashed every later
    ``kernelgym run`` and ``grade`` on the machine."""
    from kernelgym.runtime.tempdirs import remove_tree, sweep

    plain = tmp_path / "plain"
    _deep_tree(plain, 3000)
    assert remove_tree(plain) and not plain.exists()
    # an owned folder whose owner is gone (a pid that cannot exist), holding a deep tree
    me = parse_owner(owned_name := Path(tempfile.mkdtemp(prefix="x", dir=tmp_path)).name)
    assert me is None  # not an owned name: left alone
    from kernelgym.runtime.tempdirs import current_owner

    owner = current_owner()
    assert owner is not None
    dead = tmp_path / f"kernelgym-episode-{2**22 + 1}.{owner.start}.{owner.pidns}.{owner.boot}-abc"
    _deep_tree(dead, 3000)
    assert parse_owner(dead.name) is not None
    removed = sweep(tmp_path)  # must not raise
    assert dead in removed and not dead.exists() and (tmp_path / owned_name).exists()


@pytest.mark.kernel
def test_a_kernel_that_leaves_a_deep_tree_does_not_stop_the_run(ehr_data: Path, tmp_path: Path) -> None:
    """Issue 15 (5), through a real run: the kernel's working folder with a 3,000-deep tree is removed
    when its episode ends; the run records the episode and goes on."""
    from kernelgym.agents import load_agent
    from kernelgym.runs.runner import RunOptions, read_results, run
    from kernelgym.tasks import select

    tasks = select("ehr", split="test", limit=2)
    before = {p for p in Path("/tmp").glob("kernelgym-*")}
    run(tasks, load_agent("helpers.adversarial_agents:LeavesDeepTree"), tmp_path / "run", RunOptions(progress=False))
    results, bad = read_results(tmp_path / "run")
    assert bad == 0 and len(results) == 2
    assert all(r.stop_reason == "answered" and not r.passed and r.error is None for r in results)
    # the episodes' own folders are gone (this process's fork servers, "fs"/"zygote", live on with it)
    mine = [p for p in set(Path("/tmp").glob("kernelgym-*")) - before
            if (parsed := parse_owner(p.name)) is not None and parsed[1].pid == os.getpid()
            and parsed[0] not in ("fs", "zygote")]
    assert mine == []
