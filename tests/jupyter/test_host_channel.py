"""The host channel (``kernelgym/jupyter/host_channel.py``): what it answers, and whom.

The server runs in this process, the client is the kernel side's own request function, both for
real over a Unix socket. End-to-end use (plain papermill, a sandboxed kernel) is in
tests/test_grade.py; the brute-force attack on it through a run is in tests/test_sandbox.py.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernelgym.jupyter import host_channel
from kernelgym.kernel.starter import _channel_request
from kernelgym.runtime.kernel_manager import disable_host_channel, host_channel_enabled
from kernelgym.tasks import Instance, select

pytestmark = [pytest.mark.kernel]


@pytest.fixture(scope="module")
def task(ehr_data: Path) -> Instance:
    return select("ehr", split="test", limit=1)[0]


@pytest.fixture
def channel() -> Iterator[host_channel.HostChannel]:
    folder = tempfile.mkdtemp(prefix="kernelgym-ipc-test-")
    os.chmod(folder, 0o755)
    ch = host_channel.HostChannel(folder)
    try:
        yield ch
    finally:
        ch.close()
        os.rmdir(folder)


def test_verdict_says_passed_or_failed_and_never_the_expected_answer(channel: host_channel.HostChannel, task: Instance) -> None:
    right = _channel_request(channel.path, "verdict", task.id, [{"submitted": True, "answer": task.ground_truth}])
    wrong = _channel_request(channel.path, "verdict", task.id, [{"submitted": True, "answer": "certainly not"}])
    assert right["passed"] is True and wrong["passed"] is False
    assert set(wrong) <= {"task_id", "passed", "score", "summary", "asked"}
    if not isinstance(task.ground_truth, bool):
        assert json.dumps(task.ground_truth) not in wrong["summary"]


def test_asked_counts_the_verdicts_of_each_task(channel: host_channel.HostChannel, task: Instance) -> None:
    """A kernel that asked many times (trying answers) shows it in every later verdict."""
    asked = [_channel_request(channel.path, "verdict", task.id, [{"submitted": False, "answer": None}])["asked"]
             for _ in range(3)]
    assert asked == [1, 2, 3] and channel.asked[task.id] == 3


def test_task_and_verifier_requests_answer_the_public_part(channel: host_channel.HostChannel, task: Instance) -> None:
    record = _channel_request(channel.path, "task", task.id)
    assert record["id"] == task.id and record["prompt"] == task.prompt
    assert "ground_truth" not in record and "reference" not in record
    assert "verify" in _channel_request(channel.path, "verifier", task.id)["source"]


@pytest.mark.parametrize(
    ("command", "task_id", "message"),
    [("ground_truth", "x", "unknown command"), ("verdict", "", "task_id must be"), ("task", "no/such/task", "unknown task family")],
)
def test_bad_requests_get_a_reason_and_the_server_lives_on(
    channel: host_channel.HostChannel, task: Instance, command: str, task_id: str, message: str
) -> None:
    with pytest.raises(RuntimeError, match=message):
        _channel_request(channel.path, command, task_id)
    assert _channel_request(channel.path, "task", task.id)["id"] == task.id


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0, reason="needs root to switch uid")
def test_other_uids_are_not_served(channel: host_channel.HostChannel, task: Instance) -> None:
    """Only the kernel's own uid (and the host's) may ask: another local user is refused, and told why.

    Issue 15 (14): under load the refusal reached the client as EPIPE on its write (the server replied
    and closed before reading the request), not as the reason; both sides now let the reason through."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: become nobody, ask for a verdict
        try:
            os.close(read)
            os.setgid(65534)
            os.setuid(65534)
            try:
                # a large request (2 MB, more than a socket buffer) made the refusal an EPIPE every time
                evidence = [{"submitted": True, "answer": task.ground_truth, "pad": "x" * 2_000_000}]
                _channel_request(channel.path, "verdict", task.id, evidence)
                outcome = "served"
            except RuntimeError as exc:
                outcome = f"refused: {exc}"
            except OSError as exc:
                outcome = f"refused: {exc}"
            os.write(write, outcome.encode())
        finally:
            os._exit(0)
    os.close(write)
    outcome = b""
    while chunk := os.read(read, 4096):
        outcome += chunk
    os.close(read)
    os.waitpid(pid, 0)
    assert outcome.decode().startswith("refused: this host channel serves its own kernel only"), outcome
    channel.allow_uid(65534)  # once that uid is the kernel's, it is served
    assert channel.asked[task.id] == 0


def test_kernel_managers_started_by_kernelgym_serve_no_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_client.manager import AsyncKernelManager

    km = AsyncKernelManager(kernel_name="python3")
    assert host_channel_enabled(km)
    assert not host_channel_enabled(disable_host_channel(km))
    monkeypatch.setenv("KERNELGYM_HOST_CHANNEL", "0")
    assert not host_channel_enabled(AsyncKernelManager(kernel_name="python3"))


def test_a_channel_serves_only_the_first_task_it_answered(channel: host_channel.HostChannel) -> None:
    """Issue 15 (7): a kernel a person started could ask for verdicts on any task id. The first task
    answered (the notebook's own) binds the channel; others are refused, the bound one still served."""
    first, other = select("ehr", split="test", limit=2)
    with pytest.raises(RuntimeError, match="unknown task family"):  # a failed request binds nothing
        _channel_request(channel.path, "task", "no/such/task")
    assert _channel_request(channel.path, "task", first.id)["id"] == first.id
    assert channel.task_id == first.id
    for command in ("task", "verifier", "verdict"):
        with pytest.raises(RuntimeError, match=f"serves task {first.id} only"):
            _channel_request(channel.path, command, other.id, [{"submitted": True, "answer": other.ground_truth}])
    assert _channel_request(channel.path, "verdict", first.id, [{"submitted": False, "answer": None}])["asked"] == 1
    assert channel.asked[other.id] == 0


def test_verdicts_are_rate_limited(channel: host_channel.HostChannel, task: Instance) -> None:
    """Issue 15 (7): verdicts were unlimited (~200 queries recovered a hidden answer). A burst of
    VERDICT_BURST, then one per VERDICT_INTERVAL seconds; a refused request is not counted."""
    guess = [{"submitted": True, "answer": "certainly not"}]
    for n in range(1, host_channel.VERDICT_BURST + 1):
        assert _channel_request(channel.path, "verdict", task.id, guess)["asked"] == n
    with pytest.raises(RuntimeError, match="too many verdicts.*try again in"):
        _channel_request(channel.path, "verdict", task.id, guess)
    assert channel.asked[task.id] == host_channel.VERDICT_BURST
    assert _channel_request(channel.path, "task", task.id)["id"] == task.id  # the rest is not limited


def test_the_verdict_budget_refills_with_time() -> None:
    """The budget refills at one verdict per VERDICT_INTERVAL, up to the burst (a clock we advance)."""
    now = [0.0]
    state = host_channel.ChannelState(clock=lambda: now[0])
    for _ in range(host_channel.VERDICT_BURST):
        state.take_verdict()
    with pytest.raises(ValueError, match="try again in 10 s"):
        state.take_verdict()
    now[0] += host_channel.VERDICT_INTERVAL
    state.take_verdict()
    with pytest.raises(ValueError):
        state.take_verdict()
    now[0] += 1000 * host_channel.VERDICT_INTERVAL  # never more than the burst
    for _ in range(host_channel.VERDICT_BURST):
        state.take_verdict()
    with pytest.raises(ValueError):
        state.take_verdict()


def test_a_sandboxed_kernel_a_person_started_cannot_brute_force_other_tasks(ehr_data: Path) -> None:
    """The attack as a person's notebook would run it, in a real sandboxed kernel with its host
    channel: verdicts on another task are refused, and guesses on its own stop at the burst."""
    from jupyter_client.manager import KernelManager

    from kernelgym.runtime.profiles import kernel_name, spec_manager

    own, other = select("ehr", split="test", limit=2)
    code = (
        "from kernelgym.kernel import starter as s\n"
        "import os\n"
        "path = os.environ['KERNELGYM_HOST_SOCKET']\n"
        f"print('own', s._channel_request(path, 'task', {own.id!r})['id'])\n"
        "outcomes = []\n"
        f"for task_id, guesses in (({other.id!r}, [{other.ground_truth!r}]), ({own.id!r}, list(range(8)))):\n"
        "    for guess in guesses:\n"
        "        try:\n"
        "            r = s._channel_request(path, 'verdict', task_id, [{'submitted': True, 'answer': guess}])\n"
        "            outcomes.append('served')\n"
        "        except RuntimeError as exc:\n"
        "            outcomes.append('other task' if 'serves task' in str(exc) else 'too many' if 'too many' in str(exc) else str(exc))\n"
        "print(outcomes)\n"
    )
    km = KernelManager(kernel_name=kernel_name("ehr"), kernel_spec_manager=spec_manager())
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        out: list[str] = []
        reply = kc.execute_interactive(code, timeout=60, output_hook=lambda m: out.append(m["content"].get("text", "")))
        assert reply["content"]["status"] == "ok", out
        text = "".join(out)
        burst = host_channel.VERDICT_BURST
        assert f"own {own.id}" in text
        assert str(["other task"] + ["served"] * burst + ["too many"] * (8 - burst)) in text, text
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
