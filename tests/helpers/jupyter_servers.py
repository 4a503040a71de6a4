"""A real Jupyter server (jupyter_server, or JupyterLab on top of it) on 127.0.0.1 for tests.

The server finds kernelgym's kernelspecs where the test session installed them (``JUPYTER_PATH``,
set by conftest), so the kernels it starts are forked and sandboxed exactly as a person's would be.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Server:
    base: str
    port: int
    root: Path
    token: str

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """One REST call with the server's token; the decoded JSON reply (None when empty)."""
        req = urllib.request.Request(
            self.base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=120) as resp:
            data = resp.read()
        return json.loads(data) if data else None


@contextmanager
def jupyter_server(root: Path, app: str = "jupyter_server", startup_s: float = 120.0) -> Iterator[Server]:
    """Run ``python -m <app>`` serving ``root`` on a free loopback port until the block ends."""
    from kernelgym.runtime.profiles import install_kernelspecs

    install_kernelspecs(user=True)  # into the test session's JUPYTER_PATH, where the server looks
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = uuid.uuid4().hex
    log_path = root / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", app, "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
             f"--ServerApp.root_dir={root}", *(["--allow-root"] if os.geteuid() == 0 else [])],
            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
        )
        server = Server(f"http://127.0.0.1:{port}", port, root, token)
        try:
            deadline = time.monotonic() + startup_s
            while True:
                try:
                    server.api("GET", "/api/status")
                    break
                except OSError:
                    assert proc.poll() is None, log_path.read_text()[-3000:]
                    assert time.monotonic() < deadline, f"the Jupyter server did not answer in {startup_s:.0f} s"
                    time.sleep(0.3)
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
