"""Kernel start-up benchmarks: cold start vs fork server vs warm pool, memory, episode throughput.

    python benchmarks/kernels.py [--repeats 10] [--live 20] [--episodes 24] [--concurrency 2]

Prints medians and ratios, all measured in this one run:

- time to a ready kernel with the ``ehr`` data loaded:
  (a) ``python3`` kernel cold start + the same data load (``load_tables()``),
  (b) a forked kernel through ``KernelManager(kernel_name="kernelgym-ehr")``,
  (c) a checkout from the warm pool;
  "ready" = ``start_kernel()`` returned, a client got a ``kernel_info`` reply and one cell on the
  data ran: for (a) the data-loading cell, for (b) ``len(patients)`` (its data is preloaded). Both
  wait for ``kernel_info`` with short polls; jupyter_client's ``wait_for_ready`` adds a fixed 0.2 s
  IOPub flush to any kernel and is not used for either.
- PSS per extra kernel with ``--live`` forked kernels alive (``/proc/<pid>/smaps_rollup`` of the fork
  server and all its descendants, with and without the live kernels),
- reference-agent episode throughput on the ``ehr`` suite, forked+pool versus a cold start per episode.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from queue import Empty
from typing import Any


def pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss_kb(pid: int) -> int:
    """PSS of a process and its descendants."""
    import psutil

    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return 0
    return sum(pss_kb(p.pid) for p in procs)


async def kernel_info(kc: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        kc.kernel_info()
        try:
            msg = await kc.get_shell_msg(timeout=0.01)
            if msg["msg_type"] == "kernel_info_reply":
                return
        except Empty:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("no kernel_info reply")


async def cold_python3(load: str) -> float:
    from jupyter_client.manager import AsyncKernelManager

    t0 = time.perf_counter()
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel(stderr=subprocess.DEVNULL)  # (its warning about TCP without encryption)
    kc = km.client()
    kc.start_channels()
    from kernelgym.runtime.kernel_manager import wait_ready

    await wait_ready(kc, km, 120)  # IOPub up before the cell, with short polls as for (b) (not the stock 0.2 s flush)
    reply = await kc.execute_interactive(load, timeout=300, output_hook=lambda m: None)
    dt = time.perf_counter() - t0
    assert reply["content"]["status"] == "ok", reply
    kc.stop_channels()
    await km.shutdown_kernel(now=True)
    return dt


def cpu_ms(pid: int) -> float:
    """CPU time of a process, all its threads, from ``/proc/<pid>/task/*/schedstat`` (ns resolution)."""
    total = 0
    for path in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e6


async def forked(kernel_name: str, cpu: list[tuple[float, float]] | None = None) -> tuple[float, Any, Any]:
    """A forked kernel through ``AsyncKernelManager(kernel_name=...)``, ready; optionally records
    (owner CPU ms, kernel CPU ms) spent on the way: with other load on the machine, the wall time
    is mostly waiting for a CPU, the CPU time is what the start costs."""
    from jupyter_client.manager import AsyncKernelManager

    c0 = cpu_ms(os.getpid())
    t0 = time.perf_counter()
    km = AsyncKernelManager(kernel_name=kernel_name)
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    await kernel_info(kc)
    # one cell on the data, as (a) ends with its data-loading cell: ready means ready to compute on it
    reply = await kc.execute_interactive("len(patients)", timeout=120, output_hook=lambda m: None)
    assert reply["content"]["status"] == "ok", reply
    dt = time.perf_counter() - t0
    if cpu is not None:
        cpu.append((cpu_ms(os.getpid()) - c0, cpu_ms(km.provisioner.pid)))
    return dt, km, kc


def med(xs: list[float]) -> float:
    return statistics.median(xs)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--live", type=int, default=20)
    ap.add_argument("--episodes", type=int, default=24)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--patients", type=int, default=None, help="build a data set of this size in a temp home")
    args = ap.parse_args()

    if args.patients:
        os.environ["KERNELGYM_HOME"] = tempfile.mkdtemp(prefix="kernelgym-bench-")
        from kernelgym.datasets.ehr import build_ehr

        build_ehr(patients=args.patients, seed=0)
    from kernelgym.kernel.ehr import data_path
    from kernelgym.runtime.profiles import (
        ensure_kernelspecs_installed,
        ensure_profile_data,
        install_kernelspecs,
        kernel_name,
    )

    ensure_profile_data("ehr")
    os.environ.setdefault("JUPYTER_DATA_DIR", tempfile.mkdtemp(prefix="kernelgym-bench-jupyter-"))
    os.environ["JUPYTER_PATH"] = os.environ["JUPYTER_DATA_DIR"]
    install_kernelspecs(user=True)
    del ensure_kernelspecs_installed
    ehr = kernel_name("ehr")
    size_mb = sum(p.stat().st_size for p in data_path().glob("*.parquet")) / 1e6
    load = "from kernelgym.kernel.ehr import load_tables\nglobals().update(load_tables())"
    print(f"ehr data: {size_mb:.1f} MB of Parquet at {data_path()}; {os.cpu_count()} CPUs; repeats={args.repeats}; "
          f"load average {os.getloadavg()[0]:.1f}")

    # (a) cold python3 + data load
    cold = [await cold_python3(load) for _ in range(max(3, args.repeats // 2))]
    # (b) forked through KernelManager (the first start also starts the zygote; reported apart)
    first, km, kc = await forked(ehr)
    kc.stop_channels()
    await km.shutdown_kernel(now=True)
    fork_times: list[float] = []
    fork_cpu: list[tuple[float, float]] = []
    for _ in range(args.repeats):
        dt, km, kc = await forked(ehr, fork_cpu)
        fork_times.append(dt)
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
    # (c) pool checkout
    from kernelgym.runtime.pool import KernelPool

    pool = KernelPool("ehr", 2)
    pool.start()
    checkouts = []
    for _ in range(args.repeats):
        while pool.ready < 1:
            await asyncio.sleep(0.01)
        t0 = time.perf_counter()
        k = await pool.checkout()
        checkouts.append(time.perf_counter() - t0)
        await k.discard()
    await pool.close()

    a, b, c = med(cold), med(fork_times), med(checkouts)
    print("\ntime to a ready kernel with the ehr data loaded (median)")
    print(f"  (a) python3 cold start + data load     {a * 1000:8.1f} ms")
    print(f"  (b) forked, KernelManager(kernelgym-ehr){b * 1000:7.1f} ms   {a / b:6.1f}x faster than (a)   (first start incl. zygote: {first * 1000:.0f} ms)")
    print(f"      CPU per (b) start: owner {med([o for o, _ in fork_cpu]):.1f} ms, kernel {med([k for _, k in fork_cpu]):.1f} ms"
          f" (incl. its spare's sandbox preparation)")
    print(f"  (c) warm pool checkout                 {c * 1000:8.2f} ms   {a / c:6.0f}x faster than (a)")

    # PSS with N live kernels
    from kernelgym.runtime import forkclient

    zygote = next(z for z in forkclient.live_zygotes())
    await asyncio.sleep(1.0)  # the zygote's spare child is part of the fork server's cost
    base = tree_pss_kb(zygote.proc.pid)
    live = []
    for _ in range(args.live):
        _, km, kc = await forked(ehr)
        live.append((km, kc))
    await asyncio.sleep(1.0)
    total = tree_pss_kb(zygote.proc.pid)  # zygote, spare, kernels and their children
    per = (total - base) / args.live / 1024
    print(f"\nmemory: zygote and spare {base / 1024:.0f} MB PSS; with {args.live} live kernels {total / 1024:.0f} MB;"
          f" {per:.1f} MB PSS per extra kernel")
    for km, kc in live:
        kc.stop_channels()
    await asyncio.gather(*(km.shutdown_kernel(now=True) for km, _ in live))

    # reference-agent throughput, forked + pool vs cold start per episode
    from kernelgym.agents import load_agent
    from kernelgym.runs.runner import RunOptions, run_async
    from kernelgym.tasks import select

    tasks = select("ehr", split="test")[: args.episodes]
    agent = load_agent("reference")
    rates = {}
    for label, fork, pool_size in (("forked+pool", "1", None), ("cold", "0", 0)):
        os.environ["KERNELGYM_FORK"] = fork
        out = Path(tempfile.mkdtemp(prefix=f"kernelgym-bench-{label}-"))
        t0 = time.perf_counter()
        summary = await run_async(tasks, agent, out, RunOptions(concurrency=args.concurrency, progress=False, pool_size=pool_size))
        dt = time.perf_counter() - t0
        rates[label] = len(tasks) / dt
        print(f"\nreference agent, {len(tasks)} ehr episodes, concurrency {args.concurrency}, {label}: "
              f"{dt:.1f} s, {rates[label]:.2f} episodes/s, passed {summary['total']['passed']}/{len(tasks)}")
    os.environ.pop("KERNELGYM_FORK", None)
    print(f"throughput ratio forked+pool / cold: {rates['forked+pool'] / rates['cold']:.1f}x")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
