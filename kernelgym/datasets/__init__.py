"""Data sets that kernelgym builds itself (deterministically, from a seed) for its kernels.

Sub-packages import their heavy dependencies (numpy, pyarrow) only when a build runs, so importing
``kernelgym.datasets`` or ``kernelgym.datasets.ehr`` stays cheap.
"""
