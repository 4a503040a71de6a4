"""A person solving a starter notebook in JupyterLab: a real Jupyter server on 127.0.0.1 starts the
kernel (through the ``kernelgym-ehr`` kernelspec, so forked and sandboxed), and the notebook's cells
run over the server's REST and websocket API as JupyterLab sends them. The verdict cell must get the
host's verdict over the provisioner's host channel.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from helpers.jupyter_servers import Server, jupyter_server
from kernelgym import notebook as nbk
from kernelgym.kernel.starter import VERDICT_MIME
from kernelgym.notebook.starter import new_starter_notebook
from kernelgym.tasks import Instance, select

pytestmark = [pytest.mark.kernel]

pytest.importorskip("jupyter_server")
websocket = pytest.importorskip("websocket")  # websocket-client, a dependency of jupyter_server


@pytest.fixture(scope="module")
def server(ehr_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with jupyter_server(tmp_path_factory.mktemp("lab")) as srv:
        yield srv


def run_notebook_cells(server: Server, name: str, nb: nbformat.NotebookNode) -> list[list[dict[str, Any]]]:
    """Open ``nb`` as JupyterLab does (a session with a kernelgym-ehr kernel), run every code cell in
    order over the websocket, and return each cell's iopub outputs."""
    nbformat.write(nb, str(server.root / name))
    session = server.api("POST", "/api/sessions",
                         {"path": name, "type": "notebook", "name": name, "kernel": {"name": "kernelgym-ehr"}})
    kernel_id = session["kernel"]["id"]
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels?token={server.token}", timeout=120)
    outputs: list[list[dict[str, Any]]] = []
    try:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "person", "session": uuid.uuid4().hex,
                           "date": "", "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell",
                "content": {"code": cell.source, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": False},
            }))
            got: list[dict[str, Any]] = []
            while True:
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id or msg.get("channel") != "iopub":
                    continue
                kind = msg["msg_type"]
                if kind == "status" and msg["content"]["execution_state"] == "idle":
                    break
                if kind in ("stream", "display_data", "execute_result", "error"):
                    got.append({"type": kind, **msg["content"]})
            outputs.append(got)
    finally:
        ws.close()
        server.api("DELETE", f"/api/sessions/{session['id']}")
    return outputs


def _verdicts(outputs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [o["data"][VERDICT_MIME] for cell in outputs for o in cell if VERDICT_MIME in o.get("data", {})]


@pytest.fixture(scope="module")
def task(ehr_data: Path) -> Instance:
    return select("ehr", split="test", limit=1)[0]


def starter_with(task: Instance, solution: list[str], probe: str | None = None) -> nbformat.NotebookNode:
    nb = new_starter_notebook(task)
    at = nb.cells.index(nbk.cells_with_tag(nb, nbk.TAG_ACTION)[0]) + 1
    cells = [nbformat.v4.new_code_cell(src) for src in ([probe] if probe else []) + ["\n".join(solution)]]
    nb.cells[at:at] = cells
    return nb


@pytest.mark.slow
def test_a_starter_solved_in_jupyterlab_gets_its_verdict_from_a_sandboxed_kernel(server: Server, task: Instance) -> None:
    from kernelgym.kernel.paths import kernelgym_home

    probe = ("import importlib.util, os\n"
             f"print('PROBE', importlib.util.find_spec('kernelgym.tasks') is None, os.path.exists({str(kernelgym_home() / 'tasks')!r}),"
             " os.environ.get('KERNELGYM_SANDBOX_APPLIED', ''))")
    outputs = run_notebook_cells(server, "solved.ipynb", starter_with(task, task.reference, probe))
    printed = "".join(o.get("text", "") for cell in outputs for o in cell)
    assert "PROBE True False" in printed and "mount-namespace" in printed, printed  # sandboxed
    assert not [o for cell in outputs for o in cell if o["type"] == "error"], printed
    [verdict] = _verdicts(outputs)
    assert verdict["passed"] is True and verdict["via"] == "channel" and verdict["asked"] == 1, verdict


@pytest.mark.slow
def test_a_wrong_answer_in_jupyterlab_is_told_failed_without_the_expected_answer(server: Server, task: Instance) -> None:
    outputs = run_notebook_cells(server, "wrong.ipynb", starter_with(task, ["submit('certainly not the answer')"]))
    [verdict] = _verdicts(outputs)
    assert verdict["passed"] is False and verdict["via"] == "channel", verdict
    assert set(verdict) <= {"task_id", "passed", "score", "summary", "by", "via", "asked"}
    assert "expected" not in str(verdict["summary"]).lower() and "certainly not the answer" in verdict["summary"]
