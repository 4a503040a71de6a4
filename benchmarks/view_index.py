"""How fast ``kernelgym view`` answers its episodes table on a large run.

Writes a synthetic run folder of N episodes (``results.jsonl`` only, as tests/helpers/view_runs.py
writes it: 100 categories, 4 rollouts per task, 55 % of answered episodes passed), indexes it as
``kernelgym view`` does, starts the viewer's server and times pages of ``/api/episodes`` over HTTP,
as the browser asks for them. Each "cold" query is one the server has not seen (filters, sort and
search are computed); "warm" is the next page of the same query (the ordering is cached).

    python benchmarks/view_index.py --episodes 100000 --repeats 7
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.view_runs import synthetic_run  # noqa: E402

from kernelgym.view import Index, ViewServer  # noqa: E402


def fetch(url: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as resp:
        data = json.loads(resp.read())
    return 1000 * (time.perf_counter() - t0), data


def prompt_rate(run: Path, n: int) -> None:
    """Time the background prompt pass on ``n`` episode notebooks (copies of a golden one)."""
    from helpers.view_runs import golden

    from kernelgym import notebook as nbk
    from kernelgym.runs.runner import notebook_path

    index = Index.load([run])
    nb = golden("failed")
    tasks = list(index.runs[0].by_task.items())[:n]
    for task_id, rows in tasks:
        r = index.runs[0].results[rows[0]]
        nb.cells[0].source = f"## Task `{task_id}`\n\nWhat is the sum of the numbers in `values`?"
        nbk.write(nb, notebook_path(run, task_id, r.rollout), validate=False)
    t0 = time.perf_counter()
    index.index_prompts()
    took = time.perf_counter() - t0
    print(f"prompt pass with {len(tasks):,} notebooks (of {len(index.runs[0].by_task):,} tasks): {took:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--notebooks", type=int, default=2000, help="episode notebooks for the prompt-reading measure")
    ap.add_argument("--out", type=Path, default=None, help="folder for the synthetic run (default: a temporary one)")
    args = ap.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        run = (args.out or Path(tmp)) / "synthetic-run"
        t0 = time.perf_counter()
        synthetic_run(run, args.episodes)
        size = (run / "results.jsonl").stat().st_size
        print(f"wrote {args.episodes:,} episodes ({size / 1e6:.1f} MB results.jsonl) in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        index = Index.load([run])
        load_s = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"index built in {load_s:.2f} s (read_results + rows); peak RSS of this process {rss:.0f} MB")
        t0 = time.perf_counter()
        index.index_prompts()  # no notebooks here: only the look-up of each task's notebook
        print(f"prompt pass over {len(index.runs[0].by_task):,} tasks without notebooks: {time.perf_counter() - t0:.2f} s")
        server = ViewServer(index)
        base = server.start() + "/api/episodes?"
        queries = {
            "first page, no filter (sort task id)": lambda r: {"sort": "task_id", "desc": r % 2},
            "category + outcome failed, sort turns desc": lambda r: {"category": f"fam{r % 5}/cat{r:02d}",
                                                                     "outcome": "failed", "sort": "turns", "desc": 1},
            "text search (answer / explanation)": lambda r: {"q": f"mismatch: got {100 + r}"},
            "stop reason, sort tokens, page 40": lambda r: {"stop": ["answered", "max_turns"][r % 2], "sort": "tokens",
                                                            "page": 40},
        }
        rows = []
        for name, make in queries.items():
            cold, warm, server_ms, matched = [], [], [], 0
            for r in range(args.repeats):
                params = {k: v for k, v in make(r).items()} | {"per_page": 50}
                index.clear_cache()
                ms, data = fetch(base + urllib.parse.urlencode(params))
                cold.append(ms)
                server_ms.append(data["elapsed_ms"])
                matched = data["matched"]
                ms, _ = fetch(base + urllib.parse.urlencode(params | {"page": int(params.get("page", 1)) + 1}))
                warm.append(ms)
            rows.append((name, matched, statistics.median(cold), max(cold), statistics.median(warm),
                         statistics.median(server_ms)))
        server.stop()
        if args.notebooks:
            prompt_rate(run, args.notebooks)
    print()
    print("| query | rows matched (last) | cold, median | cold, max | next page (warm), median | in the index, median |")
    print("|---|---|---|---|---|---|")
    for name, matched, cm, cx, wm, sm in rows:
        print(f"| {name} | {matched:,} | {cm:.1f} ms | {cx:.1f} ms | {wm:.1f} ms | {sm:.1f} ms |")
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
