"""Run episodes on a Ray cluster: one kernel host per node, the run's bookkeeping on the driver.

``kernelgym run --backend ray [--address ADDR]`` (or ``RunOptions(executor=RayExecutor(...))``):

- every alive node of the cluster gets one :class:`KernelHost` actor, pinned to it. The host holds
  the profiles' fork servers and warm pools of forked kernels, sized to the node's CPUs (its Ray
  ``CPU`` resource, e.g. ``ray start --num-cpus 8``), and runs whole episodes
  (:func:`kernelgym.episode.run_episode`) there;
- the driver hands episodes to the hosts that have a free slot (each host pulls the next one when an
  episode ends) and receives each episode's result and notebook; it writes ``results.jsonl``, the
  notebooks and ``summary.json`` exactly as a local run does (same files, same fields, resumable);
- a host that dies (its process, or its node) has its unfinished episodes put back in the queue and
  run again elsewhere; an episode is recorded only when its result reaches the driver, so none is
  lost or recorded twice. Nodes that join during the run get a host; a host that died on a node that
  is still alive is replaced (at most ``max_host_restarts`` times per node).

Each host builds or finds the profiles' data sets on its own node, under that node's
``KERNELGYM_HOME`` (the environment of ``ray start`` on that node), and refuses to run when the data
differs from the data the driver generated the tasks from (dataset fingerprints): a wrong data set
would grade answers against the wrong ground truth.

For trainers: :class:`RayKernelHosts` starts the same hosts and gives step-by-step episodes on them
(:meth:`RayKernelHosts.driver`, a drop-in for :class:`kernelgym.episode.driver.EpisodeDriver`), which the
Gymnasium environment, the TRL environment and :func:`kernelgym.training.rollout.rollouts` accept as
``kernel_host=``.

Ray is an optional dependency: ``pip install 'kernelgym[ray]'``.
"""

from __future__ import annotations

import asyncio
import collections
import fcntl
import os
import socket
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernelgym.episode import Action, EpisodeConfig, EpisodeResult, Observation
from kernelgym.tasks import Instance

NAMESPACE = "kernelgym"


class RayBackendError(RuntimeError):
    """The Ray backend cannot run the episodes (no cluster, no usable kernel host...)."""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RayBackendError(
            "the ray backend needs Ray: pip install 'kernelgym[ray]'"
        ) from exc
    return ray


REACH_TIMEOUT = 5.0
"""Seconds to reach a cluster's address before :func:`connect` gives up (Ray itself retried for minutes)."""


def check_reachable(address: str | None, timeout: float = REACH_TIMEOUT) -> None:
    """Raise :class:`RayBackendError` (one line) when nothing accepts TCP connections at a ``HOST:PORT`` or
    ``ray://HOST:PORT`` address within ``timeout`` seconds; other addresses (None, ``auto``, ``local``)
    are left to Ray.

    ``ray.init`` on an unreachable address retried its connection for 13 minutes before giving up."""
    target = address or os.environ.get("RAY_ADDRESS") or ""
    rest = target.split("://", 1)[1] if "://" in target else target
    host, sep, port = rest.rstrip("/").rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    host = host.strip("[]")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        why = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__).lower()
        raise RayBackendError(
            f"cannot reach the Ray cluster at {target} ({why} within {timeout:g} s): is `ray start --head` running "
            f"there, and is the address right (--address HOST:PORT, or ray://HOST:10001)?") from None


def connect(address: str | None = None, **init_kwargs: Any) -> Any:
    """Connect this process to a Ray cluster (``address``: ``HOST:PORT``, ``auto``, ``ray://...``;
    None: ``$RAY_ADDRESS``, else a local single-node cluster is started). Returns the ``ray`` module.
    An address that does not answer fails within seconds (:func:`check_reachable`)."""
    ray = _import_ray()
    if not ray.is_initialized():
        check_reachable(address)
        import logging

        kwargs: dict[str, Any] = {
            "namespace": NAMESPACE, "log_to_driver": False, "logging_level": logging.WARNING,
            "configure_logging": True,
        }
        if address is None and not os.environ.get("RAY_ADDRESS"):
            kwargs["include_dashboard"] = False
        kwargs.update(init_kwargs)
        try:
            ray.init(address=address, **kwargs)
        except ConnectionError as exc:
            raise RayBackendError(f"cannot connect to the Ray cluster at {address}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    return ray


# ------------------------------------------------------------------------------------- host side


def _data_lock(home: Path) -> Any:
    """An exclusive lock on ``home`` while data sets are built: two hosts sharing a KERNELGYM_HOME
    (two nodes on one machine, or a shared file system) must not build the same data set at once."""
    home.mkdir(parents=True, exist_ok=True)
    fh = open(home / ".kernelgym-build.lock", "w")
    fcntl.flock(fh, fcntl.LOCK_EX)
    return fh


class KernelHost:
    """One per node: the node's fork servers and warm pools, running episodes for the driver.

    Created by :class:`RayExecutor` / :class:`RayKernelHosts` as a Ray actor pinned to its node.
    Its methods are coroutines run on the actor's event loop, many at once.
    """

    def __init__(self, slots: int, pool_size: int, env: dict[str, str] | None = None) -> None:
        os.environ.update(env or {})
        try:  # kernels inherit the worker's priority; never run them above normal priority
            if os.getpriority(os.PRIO_PROCESS, 0) < 0:
                os.setpriority(os.PRIO_PROCESS, 0, 0)
        except OSError:
            pass
        self.slots = slots
        self.pool_size = pool_size
        self.pools: Any = None
        self.running = 0
        self.done = 0
        self.drivers: dict[str, Any] = {}
        self.fingerprints: dict[str, str | None] = {}

    def info(self) -> dict[str, Any]:
        from kernelgym.kernel.paths import kernelgym_home

        return {
            "hostname": socket.gethostname(), "pid": os.getpid(), "slots": self.slots,
            "kernelgym_home": str(kernelgym_home()), "running": self.running, "done": self.done,
        }

    async def prepare(self, profiles: dict[str, str | None]) -> dict[str, Any]:
        """Build or find each profile's data on this node and warm its pool. ``profiles`` maps a
        profile to the dataset fingerprint the driver's tasks were generated from; a host whose data
        differs reports ``error`` and must not be used."""
        from kernelgym.kernel.paths import kernelgym_home
        from kernelgym.runtime.pool import KernelPools
        from kernelgym.runtime.profiles import ensure_profile_data

        def build() -> dict[str, str | None]:
            lock = _data_lock(kernelgym_home())
            try:
                return {p: ensure_profile_data(p) for p in profiles}
            finally:
                lock.close()

        info = self.info()
        try:
            self.fingerprints.update(await asyncio.to_thread(build))
        except Exception as exc:
            return {**info, "error": f"preparing the data sets failed: {type(exc).__name__}: {exc}"}
        wrong = {p: (fp, self.fingerprints[p]) for p, fp in profiles.items() if fp and self.fingerprints[p] != fp}
        if wrong:
            detail = "; ".join(f"{p}: driver {a}, node {b}" for p, (a, b) in wrong.items())
            return {**info, "error": f"the data sets under {info['kernelgym_home']} differ from the driver's ({detail})"}
        if self.pools is None and self.pool_size > 0:
            self.pools = KernelPools(self.pool_size)
        if self.pools is not None:
            for profile in profiles:
                self.pools.get(profile)
        return info

    def _use_pools(self) -> None:
        if self.pools is not None:
            from kernelgym.runtime import pool

            pool._active.set(self.pools)  # this call's task only

    async def run(self, inst: Instance, agent_factory: Callable[[], Any], config: EpisodeConfig, rollout: int) -> dict[str, Any]:
        """One whole episode; returns ``{"result": json, "notebook": json}``, ``{"crash": why}`` or
        ``{"fatal": message}`` (a :class:`~kernelgym.llm.errors.FatalModelError`: stop the run)."""
        import nbformat

        from kernelgym.episode import run_episode
        from kernelgym.llm.client import follow_run_concurrency, reset_run_concurrency
        from kernelgym.llm.errors import FatalModelError

        self._use_pools()
        # an agent's request cap (no --max-concurrent-requests) follows the host's slots, as it follows
        # --concurrency in a local run; without this it was 8 per host
        token = follow_run_concurrency(self.slots)
        self.running += 1
        try:
            result, nb = await run_episode(inst, agent_factory(), config=config, rollout=rollout)
            return {"result": result.model_dump_json(), "notebook": nbformat.writes(nb)}
        except FatalModelError as exc:
            return {"fatal": str(exc), "type": type(exc).__name__}
        except Exception as exc:
            return {"crash": traceback.format_exc()}
        finally:
            reset_run_concurrency(token)
            self.running -= 1
            self.done += 1

    # step-by-step episodes (RemoteEpisodeDriver) -----------------------------------------------

    async def ep_start(self, eid: str, inst: Instance, config: EpisodeConfig, rollout: int, agent_name: str,
                       model: str | None, sampling: dict[str, Any]) -> dict[str, Any]:
        from kernelgym.episode.driver import EpisodeDriver

        self._use_pools()
        driver = EpisodeDriver(inst, config=config, rollout_index=rollout, agent_name=agent_name,
                               model=model, sampling=sampling)
        self.drivers[eid] = driver
        self.running += 1
        return self._ep_reply(eid, await driver.start())

    async def ep_step(self, eid: str, action: Action) -> dict[str, Any]:
        driver = self.drivers.get(eid)
        if driver is None:
            raise RuntimeError(f"no episode {eid} on this host")
        return self._ep_reply(eid, await driver.step(action))

    async def ep_cancel(self, eid: str) -> None:
        driver = self.drivers.pop(eid, None)
        if driver is not None:
            self.running -= 1
            await driver.cancel()

    def _ep_reply(self, eid: str, obs: Observation | None) -> dict[str, Any]:
        import nbformat

        if obs is not None:
            return {"observation": obs}
        driver = self.drivers.pop(eid)
        self.running -= 1
        self.done += 1
        return {"result": driver.result.model_dump_json(), "notebook": nbformat.writes(driver.notebook)}

    async def close(self) -> None:
        for eid in list(self.drivers):
            await self.ep_cancel(eid)
        if self.pools is not None:
            await asyncio.gather(*(p.close() for p in self.pools.pools.values()), return_exceptions=True)
            self.pools = None
        from kernelgym.runtime.forkclient import shutdown_zygotes

        shutdown_zygotes()


_actor_classes: dict[int, Any] = {}


def _actor_class(ray: Any) -> Any:
    cls = _actor_classes.get(id(ray))
    if cls is None:
        cls = _actor_classes[id(ray)] = ray.remote(num_cpus=0, max_restarts=0, max_concurrency=10_000)(KernelHost)
    return cls


# ------------------------------------------------------------------------------------- driver side


@dataclass
class _Host:
    node_id: str
    node_ip: str
    handle: Any
    slots: int
    info: dict[str, Any] = field(default_factory=dict)
    running: int = 0
    done: int = 0
    alive: bool = True
    ready: bool = False
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.info.get('hostname') or self.node_ip}:{self.node_id[:6]}"


def _host_failure(ray: Any, exc: BaseException) -> bool:
    """Whether ``exc`` (raised by awaiting a host call) means the host or its node is gone, as
    opposed to an error of the call itself."""
    return isinstance(exc, ray.exceptions.RayError) and not isinstance(exc, ray.exceptions.RayTaskError)


class _Hosts:
    """The driver's view of the kernel hosts: one per alive node, created and replaced as needed."""

    def __init__(self, ray: Any, *, slots: int | None, pool_size: int | None, env: dict[str, str] | None,
                 max_host_restarts: int, on_ready: Callable[[_Host], None] | None = None) -> None:
        self.ray = ray
        self.slots = slots
        self.pool_size = pool_size
        self.env = env
        self.max_host_restarts = max_host_restarts
        self.on_ready = on_ready
        self.hosts: dict[str, _Host] = {}
        self.starts: collections.Counter[str] = collections.Counter()
        self.lost: list[dict[str, Any]] = []
        self.refused: dict[str, str] = {}
        self.profiles: dict[str, str | None] = {}
        self._preparing: set[asyncio.Task[None]] = set()

    def alive_nodes(self) -> list[dict[str, Any]]:
        return [n for n in self.ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]

    def sync(self) -> None:
        """Start a host on every alive node that has none (new nodes, replaced hosts)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        for node in self.alive_nodes():
            nid = node["NodeID"]
            host = self.hosts.get(nid)
            if host is not None and host.alive or nid in self.refused:
                continue
            if self.starts[nid] > self.max_host_restarts:
                continue
            self.starts[nid] += 1
            slots = self.slots or max(1, int(node["Resources"]["CPU"]))
            pool = slots if self.pool_size is None else self.pool_size
            handle = _actor_class(self.ray).options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=nid, soft=False),
                name=f"kernelgym-host-{nid[:12]}-{uuid.uuid4().hex[:6]}", namespace=NAMESPACE,
            ).remote(slots, pool, self.env)
            host = self.hosts[nid] = _Host(nid, node.get("NodeManagerAddress", "?"), handle, slots)
            task = asyncio.get_running_loop().create_task(self._prepare(host))
            self._preparing.add(task)
            task.add_done_callback(self._preparing.discard)

    async def _prepare(self, host: _Host) -> None:
        try:
            info = await host.handle.prepare.remote(self.profiles)
        except Exception as exc:
            self.fail(host, f"{type(exc).__name__}: {exc}")
            return
        host.info = info
        if info.get("error"):
            self.refused[host.node_id] = info["error"]
            self.fail(host, info["error"], kill=True)
            return
        host.ready = True
        if self.on_ready is not None and host.alive:
            self.on_ready(host)

    def fail(self, host: _Host, why: str, *, kill: bool = True) -> None:
        if not host.alive:
            return
        host.alive = False
        host.error = why
        self.lost.append({"node": host.node_id, "host": host.label, "error": why, "done": host.done})
        if kill:
            try:
                self.ray.kill(host.handle, no_restart=True)
            except Exception:
                pass

    def live(self) -> list[_Host]:
        return [h for h in self.hosts.values() if h.alive]

    def status(self) -> str:
        live = [h for h in self.live() if h.ready]
        parts = [f"{h.label} {h.running}/{h.slots}" for h in live]
        starting = sum(1 for h in self.live() if not h.ready)
        text = f"hosts {len(live)}: " + ", ".join(parts) if live else "hosts 0"
        if starting:
            text += f" (+{starting} starting)"
        if self.lost:
            text += f" [{len(self.lost)} lost]"
        return text

    async def close(self) -> None:
        for task in list(self._preparing):
            task.cancel()
        live = self.live()
        if live:
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(h.handle.close.remote() for h in live), return_exceptions=True), 30)
            except Exception:
                pass
        for h in self.hosts.values():
            try:
                self.ray.kill(h.handle, no_restart=True)
            except Exception:
                pass


class RayExecutor:
    """Runs a run's episodes on the kernel hosts of a Ray cluster (see the module docstring).

    ``address``: the cluster (``HOST:PORT``, ``auto``, ``ray://...``; None: ``$RAY_ADDRESS`` or a
    new local cluster). ``slots_per_host``: episodes at once per host (default: the node's CPUs).
    ``pool_size``: warm kernels per profile on each host (default: its slots). ``env``: variables set
    in every host (e.g. ``{"KERNELGYM_HOME": ...}`` when all nodes share a folder). A host is
    replaced at most ``max_host_restarts`` times per node; an episode whose host died is run again
    at most ``max_attempts`` times in all; the run fails when no host is alive for ``no_host_timeout``
    seconds.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        slots_per_host: int | None = None,
        pool_size: int | None = None,
        env: dict[str, str] | None = None,
        max_host_restarts: int = 3,
        max_attempts: int = 3,
        no_host_timeout: float = 120.0,
        poll_interval: float = 1.0,
    ) -> None:
        self.address = address
        self.slots_per_host = slots_per_host
        self.pool_size = pool_size
        self.env = env
        self.max_host_restarts = max_host_restarts
        self.max_attempts = max_attempts
        self.no_host_timeout = no_host_timeout
        self.poll_interval = poll_interval
        self._stats: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        return {"name": "ray", "address": self.address, **self._stats}

    async def execute(
        self,
        todo: list[tuple[Instance, int]],
        agent_factory: Callable[[], Any],
        config: EpisodeConfig,
        record: Callable[..., None],
        status: Callable[[str], None],
    ) -> None:
        import nbformat

        from kernelgym.llm.errors import FatalModelError

        ray = connect(self.address)
        try:
            factory_ref = ray.put(agent_factory)
        except Exception as exc:
            raise RayBackendError(f"the agent factory cannot be sent to the cluster: {type(exc).__name__}: {exc}") from exc
        config_ref = ray.put(config)
        queue: collections.deque[tuple[Instance, int]] = collections.deque(todo)
        attempts: collections.Counter[tuple[str, int]] = collections.Counter()
        recorded: set[tuple[str, int]] = set()
        remaining = len(todo)
        requeued = 0
        fatal: list[BaseException] = []
        wake = asyncio.Event()  # work was put back in the queue, or the run is over
        changed = asyncio.Event()  # the run is over (or must stop)
        workers: set[asyncio.Task[None]] = set()

        async def worker(host: _Host) -> None:
            nonlocal requeued
            while host.alive and remaining > 0 and not fatal:
                if not queue:
                    wake.clear()
                    await wake.wait()
                    continue
                inst, k = queue.popleft()
                key = (inst.id, k)
                attempts[key] += 1
                host.running += 1
                try:
                    out = await host.handle.run.remote(inst, factory_ref, config_ref, k)
                except Exception as exc:
                    host.running -= 1
                    if _host_failure(ray, exc):
                        hosts.fail(host, f"{type(exc).__name__}: {exc}".splitlines()[0])
                        if attempts[key] >= self.max_attempts:
                            finish(inst, k, None, None, f"its kernel host died {attempts[key]} times ({type(exc).__name__})")
                        else:
                            requeued += 1
                            queue.appendleft((inst, k))
                            wake.set()
                        return
                    finish(inst, k, None, None, f"{type(exc).__name__}: {exc}")
                    continue
                host.running -= 1
                host.done += 1
                if "fatal" in out:
                    fatal.append(FatalModelError(out["fatal"]))
                    wake.set()
                    changed.set()
                    return
                if "crash" in out:
                    finish(inst, k, None, None, out["crash"])
                    continue
                finish(inst, k, EpisodeResult.model_validate_json(out["result"]),
                       nbformat.reads(out["notebook"], as_version=4), None)

        def finish(inst: Instance, k: int, result: EpisodeResult | None, nb: Any, crash: str | None) -> None:
            nonlocal remaining
            key = (inst.id, k)
            if key in recorded:  # cannot happen (one outcome per submission), but never write twice
                return
            recorded.add(key)
            remaining -= 1
            record(inst, k, result, nb, crash)
            if remaining <= 0:
                wake.set()
                changed.set()

        def on_ready(host: _Host) -> None:
            for _ in range(host.slots):
                task = asyncio.get_running_loop().create_task(worker(host))
                workers.add(task)
                task.add_done_callback(workers.discard)

        hosts = _Hosts(ray, slots=self.slots_per_host, pool_size=self.pool_size, env=self.env,
                       max_host_restarts=self.max_host_restarts, on_ready=on_ready)
        profiles: dict[str, str | None] = {}
        for inst, _ in todo:
            profiles.setdefault(inst.profile, inst.dataset_fingerprint)
        hosts.profiles = profiles
        t0 = time.monotonic()
        last_alive = time.monotonic()
        try:
            while remaining > 0 and not fatal:
                hosts.sync()
                if hosts.live():
                    last_alive = time.monotonic()
                elif hosts.refused and set(hosts.refused) >= {n["NodeID"] for n in hosts.alive_nodes()}:
                    raise RayBackendError("no node can run the episodes: " + "; ".join(sorted(set(hosts.refused.values()))))
                elif time.monotonic() - last_alive > self.no_host_timeout:
                    why = "; ".join(sorted(set(hosts.refused.values()))) or "; ".join(
                        x["error"] for x in hosts.lost[-3:]) or "the cluster has no node with CPUs"
                    raise RayBackendError(f"no kernel host alive for {self.no_host_timeout:g} s: {why}")
                status(hosts.status())
                changed.clear()
                try:
                    await asyncio.wait_for(changed.wait(), self.poll_interval)
                except asyncio.TimeoutError:
                    pass
            if fatal:
                raise fatal[0]
        finally:
            for task in list(workers):
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            self._stats = {
                "hosts": [
                    {"node": h.node_id, "host": h.label, "slots": h.slots, "episodes": h.done,
                     "alive": h.alive, "kernelgym_home": h.info.get("kernelgym_home")}
                    for h in hosts.hosts.values()
                ],
                "hosts_lost": hosts.lost, "requeued_episodes": requeued,
                "wall_s": round(time.monotonic() - t0, 2),
            }
            status(hosts.status())
            await hosts.close()


# ------------------------------------------------------------------------------------- trainers


class RemoteEpisodeDriver:
    """An episode on a Ray kernel host, driven one action at a time: the interface of
    :class:`kernelgym.episode.driver.EpisodeDriver` (``start``, ``step``, ``finish``, ``cancel``, ``done``,
    ``result``, ``notebook``, ``observation``). Made by :meth:`RayKernelHosts.driver`."""

    def __init__(self, hosts: RayKernelHosts, task: Instance | str, *, config: EpisodeConfig | None = None,
                 rollout_index: int = 0, agent_name: str = "rollout", model: str | None = None,
                 sampling: dict[str, Any] | None = None) -> None:
        from kernelgym.episode.driver import resolve_instance

        self.hosts = hosts
        self.instance = resolve_instance(task)
        self.config = config or EpisodeConfig()
        self.rollout_index = rollout_index
        self.agent_name, self.model, self.sampling = agent_name, model, dict(sampling or {})
        self.eid = uuid.uuid4().hex
        self._host: _Host | None = None
        self.observation: Observation | None = None
        self.result: EpisodeResult | None = None
        self.notebook: Any = None

    @property
    def done(self) -> bool:
        return self.result is not None

    @property
    def host(self) -> str | None:
        """The label of the host running this episode."""
        return self._host.label if self._host is not None else None

    async def start(self) -> Observation | None:
        if self._host is not None:
            raise RuntimeError("this episode was already started")
        self._host = await self.hosts.pick(self.instance.profile, self.instance.dataset_fingerprint)
        self._host.running += 1
        reply = await self._call(self._host.handle.ep_start.remote(
            self.eid, self.instance, self.config, self.rollout_index, self.agent_name, self.model, self.sampling))
        return self._take(reply)

    async def step(self, action: Action | str | dict[str, Any]) -> Observation | None:
        from kernelgym.episode.driver import as_action

        if self._host is None:
            raise RuntimeError("call start() first")
        if self.done:
            raise RuntimeError("the episode is over")
        return self._take(await self._call(self._host.handle.ep_step.remote(self.eid, as_action(action))))

    async def finish(self) -> EpisodeResult:
        """End the episode now (a stop action: the verifier grades what was submitted so far)."""
        while not self.done:
            await self.step(Action.stop())
        assert self.result is not None
        return self.result

    async def cancel(self) -> None:
        """Abandon the episode without verification (its kernel is shut down)."""
        if self._host is not None and not self.done:
            try:
                await self._host.handle.ep_cancel.remote(self.eid)
            except Exception:
                pass
            self._release()

    async def _call(self, ref: Any) -> dict[str, Any]:
        assert self._host is not None
        try:
            return await ref
        except Exception as exc:
            if _host_failure(self.hosts.ray, exc):
                self.hosts.lost_host(self._host, exc)
                self._release()
                raise RayBackendError(
                    f"the kernel host of episode {self.instance.id} died ({type(exc).__name__}); start a new episode"
                ) from exc
            raise

    def _take(self, reply: dict[str, Any]) -> Observation | None:
        import nbformat

        if "observation" in reply:
            self.observation = reply["observation"]
            return self.observation
        self.result = EpisodeResult.model_validate_json(reply["result"])
        self.notebook = nbformat.reads(reply["notebook"], as_version=4)
        self.observation = None
        self._release()
        return None

    def _release(self) -> None:
        if self._host is not None and self._host.running > 0:
            self._host.running -= 1
            self._host.done += 1


class RayKernelHosts:
    """Kernel hosts on every node of a Ray cluster, for trainers: episodes started anywhere in the
    cluster, driven step by step from this process.

    ``hosts.driver(task, ...)`` returns a :class:`RemoteEpisodeDriver` on the least loaded host;
    the Gymnasium environment, :class:`kernelgym.training.rollout.KernelgymToolEnv` and
    :func:`kernelgym.training.rollout.rollouts` take ``kernel_host=hosts``. Arguments as in
    :class:`RayExecutor`. Call :meth:`close` (or ``await aclose()``) when done.
    """

    def __init__(self, address: str | None = None, *, slots_per_host: int | None = None,
                 pool_size: int | None = None, env: dict[str, str] | None = None, max_host_restarts: int = 3,
                 timeout: float = 120.0) -> None:
        self.address = address
        self.ray = connect(address)
        self.timeout = timeout
        self._hosts = _Hosts(self.ray, slots=slots_per_host, pool_size=pool_size, env=env,
                             max_host_restarts=max_host_restarts)
        self._lock: asyncio.Lock | None = None

    def driver(self, task: Instance | str, *, config: EpisodeConfig | None = None, rollout_index: int = 0,
               agent_name: str = "rollout", model: str | None = None,
               sampling: dict[str, Any] | None = None) -> RemoteEpisodeDriver:
        """A step-by-step episode of ``task`` on the least loaded host (started by ``await start()``)."""
        return RemoteEpisodeDriver(self, task, config=config, rollout_index=rollout_index,
                                   agent_name=agent_name, model=model, sampling=sampling)

    async def pick(self, profile: str, fingerprint: str | None) -> _Host:
        """The ready host with the most free slots, preparing ``profile`` on the hosts first."""
        deadline = time.monotonic() + self.timeout
        if profile not in self._hosts.profiles:
            self._hosts.profiles[profile] = fingerprint
            for h in self._hosts.live():  # hosts prepared before this profile was needed
                h.ready = False
                asyncio.get_running_loop().create_task(self._hosts._prepare(h))
        while True:
            self._hosts.sync()
            ready = [h for h in self._hosts.live() if h.ready]
            if ready:
                return min(ready, key=lambda h: (h.running / h.slots, h.running, h.done))
            if time.monotonic() > deadline:
                why = "; ".join(sorted(set(self._hosts.refused.values()))) or "no host became ready"
                raise RayBackendError(f"no kernel host ready after {self.timeout:g} s: {why}")
            await asyncio.sleep(0.05)

    def lost_host(self, host: _Host, exc: BaseException) -> None:
        self._hosts.fail(host, f"{type(exc).__name__}: {exc}".splitlines()[0])

    def status(self) -> str:
        """The hosts and their load, e.g. ``hosts 2: node-a:1a2b3c 3/4, node-b:4d5e6f 4/4``."""
        return self._hosts.status()

    async def aclose(self) -> None:
        await self._hosts.close()

    def close(self) -> None:
        """Shut the hosts down (their kernels and fork servers with them)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(self.aclose())
            return
        raise RuntimeError("inside an event loop, use `await hosts.aclose()`")


__all__ = [
    "KernelHost", "RayBackendError", "RayExecutor", "RayKernelHosts", "RemoteEpisodeDriver", "connect",
]
