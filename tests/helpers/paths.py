"""Where things are, for tests in any folder."""

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
SHARED_DATA = REPO.parent / "shared" / "data"
"""``../shared/data`` beside the checkout (MIMIC-III demo, MedCalc-Bench): tests skip when it is absent."""
