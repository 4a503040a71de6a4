"""Warm pool: forked kernels started ahead of time, each handed to exactly one episode.

A pool of size N serves N episodes at once: it keeps N kernels of its profile alive, the ones
handed out to running episodes included, plus :data:`SPARE` ready ones, and refills in the
background as episodes end. ``kernelgym run`` sizes it to its concurrency (``RunOptions.pool_size``).
A checked-out kernel belongs to its episode and is shut down with it (then the pool starts the next
one); a kernel is never returned to the pool. (The pool used to keep N ready kernels *besides* the
N in use: at 128 episodes in flight, 258 kernel processes, 3.8 GB PSS and twice the descriptors.)

The pool of the current run is found through a context variable, so sessions started anywhere in
the run's task tree use it (see :func:`active_pools`); outside a run, sessions start their own kernel.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from kernelgym.runtime.kernel_manager import StartedKernel, start_kernel

SPARE = 2
"""Ready kernels a pool keeps beyond the ones its running episodes hold (so that the next episode
need not wait for a start)."""

REFILL_STARTS = 4
"""Kernels a pool starts at once while it refills. One at a time could not keep up with short episodes
at high concurrency (issue 19: at 32 episodes in flight, 3 s each, a third of the kernel starts were
misses, made on the episode's own path)."""


class KernelPool:
    """Kernels of one profile for ``size`` episodes at once: ``size`` alive, those checked out
    included, plus :data:`SPARE` ready; refilled in the background."""

    def __init__(self, profile: str, size: int, *, start_timeout: float = 120.0, kernel_spec_manager: Any = None) -> None:
        from kernelgym.runtime.profiles import kernel_name, spec_manager

        self.profile = profile
        self.kernel_name = kernel_name(profile)
        self.size = max(0, size)
        self.start_timeout = start_timeout
        self.ksm = kernel_spec_manager or spec_manager()
        self._ready: asyncio.Queue[StartedKernel] = asyncio.Queue()
        self._starting = 0
        self._out = 0  # checked out and not yet released (their episodes run)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self.checkouts = 0
        self.misses = 0
        self.last_error: str | None = None

    @property
    def ready(self) -> int:
        return self._ready.qsize()

    def start(self) -> None:
        if not self._tasks and self.size:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._refill(), name=f"kernelgym-pool-{self.profile}-{i}")
                           for i in range(REFILL_STARTS)]

    async def _refill(self) -> None:
        """One of the pool's :data:`REFILL_STARTS` refill loops: each starts a kernel while the pool is short."""
        failures = 0
        while not self._closed:
            while self._ready.qsize() + self._starting + self._out < self._target() and not self._closed:
                self._starting += 1
                try:
                    kernel = await start_kernel(self.kernel_name, kernel_spec_manager=self.ksm, timeout=self.start_timeout)
                except Exception as exc:  # a pool that cannot start kernels stays empty; checkout reports why
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    failures += 1
                    await asyncio.sleep(min(5.0, 0.1 * 2**failures))
                    continue
                finally:
                    self._starting -= 1
                failures = 0
                if self._closed:
                    await kernel.discard()
                    return
                self._ready.put_nowait(kernel)
            self._wake.clear()
            await self._wake.wait()

    def _target(self) -> int:
        """Kernels to keep alive, the checked-out ones included."""
        return self.size + SPARE if self.size else 0

    def retire(self) -> None:
        """One episode at once fewer: a worker of the run has no episode left, so no kernel is started
        for it (at the end of a run at 128 in flight, up to 130 kernels were started and discarded)."""
        self.size = max(0, self.size - 1)

    def _release(self) -> None:
        """A checked-out kernel was shut down: room for the next one."""
        self._out -= 1
        self._wake.set()

    def _hand_out(self, kernel: StartedKernel) -> StartedKernel:
        kernel.on_release = self._release
        return kernel

    async def checkout(self) -> StartedKernel:
        """A ready kernel for one episode (started on the spot if the pool is empty); the pool counts it
        until it is released (:meth:`StartedKernel.release`, done by its shutdown)."""
        self.start()
        self._out += 1
        try:
            while not self._ready.empty():
                kernel = self._ready.get_nowait()
                self._wake.set()
                if await kernel.km.is_alive():
                    self.checkouts += 1
                    return self._hand_out(kernel)
                await kernel.discard()
            self._wake.set()
            self.misses += 1
            self.checkouts += 1
            kernel = await start_kernel(self.kernel_name, kernel_spec_manager=self.ksm, timeout=self.start_timeout)
        except BaseException:
            self._release()
            raise
        return self._hand_out(kernel)

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        while not self._ready.empty():
            await self._ready.get_nowait().discard()


class KernelPools:
    """One :class:`KernelPool` per profile (each for ``size`` episodes at once), created on first use.
    ``async with`` makes it active."""

    def __init__(self, size: int, *, start_timeout: float = 120.0, profiles: list[str] | None = None) -> None:
        self.size = size
        self.start_timeout = start_timeout
        self.pools: dict[str, KernelPool] = {}
        self._token: contextvars.Token[KernelPools | None] | None = None
        self._warm = profiles or []

    def get(self, profile: str) -> KernelPool:
        pool = self.pools.get(profile)
        if pool is None:
            pool = self.pools[profile] = KernelPool(profile, self.size, start_timeout=self.start_timeout)
            pool.start()
        return pool

    async def checkout(self, profile: str) -> StartedKernel:
        return await self.get(profile).checkout()

    def retire(self) -> None:
        """A worker of the run has no episode left: every pool serves one episode at once fewer."""
        self.size = max(0, self.size - 1)
        for pool in self.pools.values():
            pool.retire()

    async def __aenter__(self) -> KernelPools:
        self._token = _active.set(self)
        for profile in self._warm:
            self.get(profile)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._token is not None:
            _active.reset(self._token)
            self._token = None
        await asyncio.gather(*(p.close() for p in self.pools.values()), return_exceptions=True)


_active: contextvars.ContextVar[KernelPools | None] = contextvars.ContextVar("kernelgym_pools", default=None)


def active_pools() -> KernelPools | None:
    """The pools of the run this code is part of, if any."""
    return _active.get()
