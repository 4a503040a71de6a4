"""Launch a kernelgym kernel: an ipykernel that runs a profile's preload file before it answers.

Used by the kernelspecs in ``kernels/<profile>/kernel.json``::

    python -m kernelgym.kernel --preload {resource_dir}/preload.py -f {connection_file}

A preload that fails stops the kernel with exit code 3 and its traceback on stderr, so a front end
sees a kernel that died at start instead of one that silently lacks its data.
"""

from __future__ import annotations

import sys
import traceback


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    preload: list[str] = []
    while "--preload" in args:
        i = args.index("--preload")
        preload.append(args[i + 1])
        del args[i : i + 2]
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(args)
    ns = app.shell.user_ns
    for path in preload:
        try:
            with open(path) as fh:
                code = compile(fh.read(), path, "exec")
            exec(code, ns)  # noqa: S102 - the profile's own preload
        except BaseException:
            sys.__stderr__.write(f"kernelgym: preload {path} failed:\n{traceback.format_exc()}")
            sys.__stderr__.flush()
            sys.exit(3)
    # preloaded names are the kernel's environment, not the user's variables (%who hides them)
    app.shell.user_ns_hidden.update({k: ns[k] for k in ns if not k.startswith("_")})
    app.start()


if __name__ == "__main__":
    main()
