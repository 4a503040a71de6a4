"""``kernelgym view RUN_DIR...``: review the episodes of runs in a browser.

A local web server (tornado) over an in-memory index of the run folders (:mod:`kernelgym.view.index`):
the runs with their manifest facts and pass rates, an episodes table sorted, filtered and paged on the
server, each episode notebook as a transcript (:mod:`kernelgym.notebook.html`), and comparisons across
runs. Run folders are only read; all run content is escaped; kernel HTML runs in no-script sandboxes.
"""

from __future__ import annotations

from kernelgym.view.index import Index, Query, ViewError, wilson
from kernelgym.view.server import ViewServer, make_app

__all__ = ["Index", "Query", "ViewError", "ViewServer", "make_app", "wilson"]
