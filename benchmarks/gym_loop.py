"""An RL-style loop through the Gymnasium API on forked kernels, checked against ``kernelgym run``.

    python benchmarks/gym_loop.py [--episodes 100] [--patients 120] [--pool-size 2]

Runs ``--episodes`` episodes of ``kernelgym/ehr-v0`` (``env.reset(seed=i)`` draws a task, a scripted
policy plays 1-3 cells: the reference solution, a wrong answer, or cells that never answer), then runs
``kernelgym run`` with the same actions on the same tasks and checks that every episode's total
reward equals the score ``kernelgym run`` recorded, and that ``terminated``/``truncated`` match its
stop reason. Prints episodes/s and the time per reset and per step.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--pool-size", type=int, default=2)
    ap.add_argument("--patients", type=int, default=None, help="build a data set of this size in a temp home")
    args = ap.parse_args()
    if args.patients:
        os.environ["KERNELGYM_HOME"] = tempfile.mkdtemp(prefix="kernelgym-bench-")
        from kernelgym.datasets.ehr import build_ehr

        build_ehr(patients=args.patients, seed=0)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

    import gymnasium as gym
    from test_gym import CATEGORIES, MAX_TURNS, PlanAgent, plan

    import kernelgym.training.gym  # noqa: F401  (registers the environments)
    from kernelgym.episode import EpisodeConfig
    from kernelgym.runs.runner import RunOptions, read_results, run_async
    from kernelgym.tasks import get_instance

    env = gym.make("kernelgym/ehr-v0", split="test", categories=CATEGORIES, max_turns=MAX_TURNS,
                   pool_size=args.pool_size)
    env.reset(seed=0)  # starts the fork server and fills the pool: not timed
    resets, steps, episodes = [], [], []
    t0 = time.perf_counter()
    for seed in range(args.episodes):
        t = time.perf_counter()
        _, info = env.reset(seed=seed)
        resets.append(time.perf_counter() - t)
        total = 0.0
        for code in plan(info["task_id"]):
            t = time.perf_counter()
            _, reward, terminated, truncated, step_info = env.step(code)
            steps.append(time.perf_counter() - t)
            total += float(reward)
            if terminated or truncated:
                break
        episodes.append((info["task_id"], total, terminated, truncated, step_info["result"]["stop_reason"]))
    wall = time.perf_counter() - t0
    env.close()

    tasks = [get_instance(t) for t in sorted({e[0] for e in episodes})]
    out = Path(tempfile.mkdtemp(prefix="kernelgym-gymloop-")) / "run"
    t = time.perf_counter()
    asyncio.run(run_async(tasks, PlanAgent, out, RunOptions(concurrency=2, progress=False,
                                                             episode=EpisodeConfig(max_turns=MAX_TURNS))))
    run_wall = time.perf_counter() - t
    run = {r.task_id: r for r in read_results(out)[0]}
    mismatches = [
        e for e in episodes
        if e[1] != run[e[0]].score or e[4] != run[e[0]].stop_reason
        or e[3] != (run[e[0]].stop_reason == "max_turns") or e[2] != (run[e[0]].stop_reason == "answered")
    ]
    passed = sum(e[1] for e in episodes)
    truncated = sum(e[3] for e in episodes)
    print(f"gymnasium loop: {len(episodes)} episodes in {wall:.1f} s = {len(episodes) / wall:.2f} episodes/s "
          f"(1 process, sequential, pool {args.pool_size})")
    print(f"  reset: median {statistics.median(resets) * 1000:.0f} ms; step: median {statistics.median(steps) * 1000:.0f} ms "
          f"(the last step of an episode includes the verifier)")
    print(f"  outcomes: {passed:.0f} passed, {len(episodes) - passed - truncated:.0f} failed, {truncated} truncated")
    print(f"kernelgym run, same actions on the {len(tasks)} distinct tasks: {run_wall:.1f} s (concurrency 2)")
    print(f"rewards equal to kernelgym run's scores: {len(episodes) - len(mismatches)}/{len(episodes)}")
    for e in mismatches:
        print(f"  MISMATCH {e} vs {run[e[0]].score} {run[e[0]].stop_reason}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
