"""Headless Chromium for tests of pages: Debian's ``chromium`` driven by Playwright's sync API.

No browser is downloaded: Playwright is pointed at the system binary (``$KERNELGYM_CHROMIUM``, or
``chromium`` / ``chromium-browser`` on PATH). ``.ci/run`` installs Debian's package; tests that need
it skip with :data:`SKIP_REASON` when it is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM = os.environ.get("KERNELGYM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
SKIP_REASON = "no Chromium binary (Debian package chromium; or set KERNELGYM_CHROMIUM)"
# what a closed network needs: no background connections to Google's services
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched Playwright ``Browser`` (closed at the end of the block)."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, SKIP_REASON
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
