"""Runtime: profile -> live, sandboxed kernel. Knows no task.

- :mod:`~kernelgym.runtime.profiles`: named kernel environments and their kernelspecs and data sets;
- :mod:`~kernelgym.runtime.kernel_manager`: the one place kernel managers are built and started;
- :mod:`~kernelgym.runtime.forkserver` (the fork server process), :mod:`~kernelgym.runtime.forkclient`
  (its owner's side) and :mod:`~kernelgym.runtime.sandbox`: fork-server kernels in their own namespaces;
- :mod:`~kernelgym.runtime.pool`: warm kernels handed out one per episode;
- :mod:`~kernelgym.runtime.kernel_session`: one kernel executing one notebook's cells under limits;
- :mod:`~kernelgym.runtime.messages`: the one rule for what the host accepts of a kernel's messages;
- :mod:`~kernelgym.runtime.tempdirs`: temp folders that name their owner and are swept when it is gone.
"""
