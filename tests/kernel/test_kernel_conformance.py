"""Every profile's kernel passes jupyter_kernel_test's standard checks, through its installed kernelspec.

The kernels come from the fork server (the kernelspec selects the kernelgym provisioner), so these
checks cover what JupyterLab and papermill see: execute, streams, errors, completion, inspection,
``is_complete``, history, display data, clear_output.
"""

from __future__ import annotations

import sys
import unittest

import pytest

jkt = pytest.importorskip("jupyter_kernel_test")

from kernelgym.runtime.profiles import (  # noqa: E402
    ensure_profile_data,
    install_kernelspecs,
    kernel_name,
    profiles,
)

pytestmark = [pytest.mark.kernel, pytest.mark.slow]  # five profiles, about 6 s each


class _ProfileKernelTests(jkt.KernelTests):
    __test__ = False  # the base class; one subclass per profile below
    profile = "ehr"
    language_name = "python"
    file_extension = ".py"
    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('test', file=sys.stderr)"
    completion_samples = [{"text": "zi", "matches": {"zip"}}]
    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n  return x*2\n\n\n"]
    incomplete_code_samples = ["print('''hello", "def f(x):\n  x*2"]
    invalid_code_samples = ["import = 7q"]
    code_page_something = "zip?"
    code_generate_error = "raise ValueError('boom')"
    code_execute_result = [{"code": "1+2+3", "result": "6"}, {"code": "[n*n for n in range(1, 4)]", "result": "[1, 4, 9]"}]
    code_display_data = [
        {"code": "from IPython.display import HTML, display; display(HTML('<b>test</b>'))", "mime": "text/html"},
        {"code": "from IPython.display import Math, display; display(Math('\\\\frac{1}{2}'))", "mime": "text/latex"},
    ]
    code_history_pattern = "1?2*"
    supported_history_operations = ("tail", "search")
    code_inspect_sample = "zip"
    code_clear_output = "from IPython.display import clear_output; clear_output()"

    @classmethod
    def setUpClass(cls) -> None:
        from helpers.data import DEMO, demo_in_session_home, ensure_ehr_data

        ensure_ehr_data()  # the small data set of the test session, before anything builds a big one
        if "mimic3" in cls.profile and DEMO.is_dir():
            demo_in_session_home()  # whatever ran before: this class needs no other test to import it
        try:
            ensure_profile_data(cls.profile)
        except (FileNotFoundError, ImportError) as exc:  # e.g. imported MIMIC-III: not in CI
            raise unittest.SkipTest(f"no data for profile {cls.profile!r}: {str(exc).splitlines()[0]}") from None
        install_kernelspecs(user=True)  # JUPYTER_DATA_DIR points into the test session's home
        cls.kernel_name = kernel_name(cls.profile)
        super().setUpClass()
        assert getattr(cls.km.provisioner, "forked", False) or not sys.platform.startswith("linux")


# one test class per shipped profile (Gymnasium-style: every registered environment is checked)
for _profile in profiles():
    _name = f"Test{_profile.title().replace('-', '')}KernelConformance"
    globals()[_name] = type(_name, (_ProfileKernelTests, unittest.TestCase), {"profile": _profile, "__test__": True})
del _profile, _name
