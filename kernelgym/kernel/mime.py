"""The MIME types of kernelgym's display messages: the one definition, shared by the kernel side
that emits them and the host side that reads them. Imports nothing."""

ANSWER_MIME = "application/vnd.kernelgym.answer+json"
"""``submit(value)``: ``{"answer": value}``."""
EVIDENCE_MIME = "application/vnd.kernelgym.evidence+json"
"""A verifier cell's evidence record, graded on the host."""
VERDICT_MIME = "application/vnd.kernelgym.verdict+json"
"""A starter notebook's verdict (passed or failed, never the expected answer)."""
