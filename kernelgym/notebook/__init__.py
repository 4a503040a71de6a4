"""The ``.ipynb`` format of kernelgym, no execution: episode and starter notebooks, their tags and
checksums, the one writer of the verdict (result cell and ``metadata.kernelgym.result``), readers of
what an executed notebook holds, and validated, atomic file I/O.

The conventions are those of DESIGN.md ("Episode notebook conventions"): every cell carries one
``kernelgym-*`` tag (or papermill's ``parameters``), the verifier cell is locked as nbgrader locks
cells and carries the checksum of its canonical source.
"""

from kernelgym.notebook.cells import (
    SCHEMA_VERSION,
    TAG_ACTION,
    TAG_HEADER,
    TAG_PARAMETERS,
    TAG_RAISES,
    TAG_RECORD,
    TAG_RESULT,
    TAG_SETUP,
    TAG_TASK,
    TAG_THOUGHT,
    TAG_VERIFIER,
    TAGS,
    VERIFIERS,
    add_action,
    add_thought,
    add_verifier,
    cells_with_tag,
    index_of_tag,
    checksum,
    checksums_bind_task,
    new_episode_notebook,
    python_literal,
    render_verifier,
    setup_source,
    tagged,
    thought_markdown,
    verifier_source,
)
from kernelgym.notebook.io import (
    MAX_NOTEBOOK_MB_ENV,
    NotebookFileError,
    check_file,
    max_notebook_bytes,
    read,
    read_bytes,
    write,
)
from kernelgym.notebook.readers import (
    INJECTED_PARAMETERS,
    PAPERMILL_ERROR_TAG,
    answers_of,
    assigned_task_id,
    evidence_of,
    kernelgym_meta,
    notebook_task_id,
    tags_of,
)
from kernelgym.notebook.result import (
    RESULT_SOURCE,
    header_markdown,
    is_result_record,
    legacy_result_markdown,
    mark_errored_actions,
    record_verdict,
    result_markdown,
    result_record,
    verdict_word,
    write_header,
    write_result,
)

__all__ = [
    "INJECTED_PARAMETERS", "MAX_NOTEBOOK_MB_ENV", "PAPERMILL_ERROR_TAG", "RESULT_SOURCE", "SCHEMA_VERSION", "TAGS",
    "TAG_ACTION", "TAG_HEADER", "TAG_PARAMETERS", "TAG_RAISES", "TAG_RECORD", "TAG_RESULT", "TAG_SETUP", "TAG_TASK", "TAG_THOUGHT", "TAG_VERIFIER", "VERIFIERS",
    "NotebookFileError", "add_action", "add_thought", "add_verifier", "answers_of", "assigned_task_id", "cells_with_tag", "index_of_tag",
    "check_file", "checksum", "checksums_bind_task", "evidence_of", "header_markdown", "is_result_record", "kernelgym_meta", "legacy_result_markdown", "mark_errored_actions", "max_notebook_bytes",
    "new_episode_notebook", "notebook_task_id", "python_literal", "read", "read_bytes", "record_verdict",
    "render_verifier", "result_markdown", "result_record", "setup_source", "tagged", "tags_of", "thought_markdown", "verdict_word",
    "verifier_source", "write", "write_header", "write_result",
]
