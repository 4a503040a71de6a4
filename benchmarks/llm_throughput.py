"""LLM-bound throughput: how close ``kernelgym run`` gets to what the model server allows.

    python benchmarks/llm_throughput.py --concurrency 8 32 128 --latency 1.0 [--turns 3] [--rounds 3]
        [--tokens-per-s 0] [--patients 120] [--max-concurrent-requests N] [--cprofile FILE] [--home DIR]

Starts a scripted OpenAI-compatible server on 127.0.0.1 (``--server-host``) in its own process (asyncio, one task per
request: 128 requests in flight cost it nothing), answering every chat request after ``--latency``
seconds plus ``completion_tokens / --tokens-per-s``. Each conversation gets ``--turns`` replies: ``turns - 1``
``run_cell`` tool calls, then ``submit_answer``, so an episode is ``turns`` model calls and ``turns`` cells.
Then, for each concurrency C, runs ``kernelgym run --model openai:stub-model --base-url ... --concurrency C``
over ``C x --rounds`` episodes of the ``ehr`` family (a data set of ``--patients`` patients built in a
temp ``KERNELGYM_HOME``, or ``--home``) in a child process, and prints one line per concurrency:

- episodes/s: new episodes / the run's ``wall_s`` (summary.json: fork server start and pool warm-up
  included), and "from 1st request": new episodes / the time from the server's first request to the
  run process's exit (the steady state, less the start-up);
- ideal and efficiency: Little's law, ``C / (turns x latency)``: C episodes in flight, each ``turns``
  model calls long (the model time alone; kernels, notebooks and the host's own work are overhead);
- host CPU per episode: user+sys of the run process (children excluded) after the first model request,
  divided by the episodes (``/proc/PID/stat``; the start-up CPU, imports and data, is printed apart);
- kernels CPU per episode: user+sys of the run process's children (the fork server with the kernels it
  reaped, its own preload included) / episodes; server CPU per episode: the scripted server's;
- peak RSS (``ru_maxrss`` of the run process), peak PSS (``/proc/PID/smaps_rollup``, every 2 s), peak threads and
  open file descriptors of the run process, the model requests the server saw at once (max), and the
  load average (1 min) before and after.

``--cprofile FILE`` profiles the run process's main thread (the event loop) and prints its top
functions by cumulative and by own time. Wall-clock figures depend on the machine's load: compare
CPU per episode, threads and descriptors across machines, episodes/s only on a quiet one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

# --------------------------------------------------------------------------- the scripted server


class _Stats:
    requests = 0
    in_flight = 0
    max_in_flight = 0


async def _serve(port: int, latency: float, tokens_per_s: float, turns: int, host: str = "127.0.0.1") -> None:
    stats = _Stats()

    def reply(body: dict[str, Any]) -> dict[str, Any]:
        n = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
        if n < turns - 1:
            name, args = "run_cell", {"code": f"x{n} = {n} + 1\nprint(x{n})"}
        else:
            name, args = "submit_answer", {"answer": 0}
        call = {"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)}}
        message = {"role": "assistant", "content": f"step {n + 1}", "tool_calls": [call]}
        prompt = max(1, len(json.dumps(body.get("messages", []))) // 4)
        completion = max(1, len(json.dumps(message)) // 4)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model"), "system_fingerprint": "fp_stub",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls", "logprobs": None}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
                body_bytes = await reader.readexactly(int(headers.get("content-length") or 0))
                if method == "GET" and path.endswith(("/stats", "/stats/reset")):
                    if path.endswith("/reset"):  # the max of the next run only
                        stats.max_in_flight = stats.in_flight
                    payload: dict[str, Any] = {"requests": stats.requests, "max_in_flight": stats.max_in_flight}
                elif method == "POST" and path.rstrip("/").endswith("/chat/completions"):
                    stats.requests += 1
                    stats.in_flight += 1
                    stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
                    try:
                        payload = reply(json.loads(body_bytes))
                        delay = latency + (payload["usage"]["completion_tokens"] / tokens_per_s if tokens_per_s else 0)
                        await asyncio.sleep(delay)
                    finally:
                        stats.in_flight -= 1
                else:
                    payload = {"error": {"message": f"no route {path}"}}
                data = json.dumps(payload).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(data)).encode() + b"\r\n\r\n" + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


# --------------------------------------------------------------------------- the measured process

_WRAPPER = r"""
import atexit, json, os, resource, sys
out = os.environ["KG_BENCH_RUSAGE"]
prof = os.environ.get("KG_BENCH_CPROFILE")
def dump():
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)  # the fork server, with the kernels it reaped
    with open(out, "w") as f:
        json.dump({"user": r.ru_utime, "sys": r.ru_stime, "maxrss_kb": r.ru_maxrss,
                   "children_user": c.ru_utime, "children_sys": c.ru_stime}, f)
atexit.register(dump)
sys.argv = ["kernelgym", *sys.argv[1:]]
from kernelgym.cli import main
if prof:
    import cProfile
    p = cProfile.Profile()
    atexit.register(lambda: p.dump_stats(prof))
    p.enable()
try:
    main()
finally:
    if prof:
        p.disable()
"""


def _proc(pid: int, pss: bool = True) -> dict[str, float] | None:
    """CPU seconds, threads, descriptors and (``pss``) PSS of a process; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        threads = int(stat[17])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        pss_bytes = 0
        # smaps_rollup walks every page table of the process: ~8 ms of CPU for a 350 MB run process,
        # which at 4 reads a second took 2 % of this machine's CPU from the run being measured
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines() if pss else ():
            if line.startswith("Pss:"):
                pss_bytes = int(line.split()[1]) * 1024
        return {"cpu": (int(stat[11]) + int(stat[12])) / tick, "threads": threads, "fds": fds, "pss": pss_bytes}
    except (OSError, IndexError, ValueError):
        return None


def _stub_stats(url: str, reset: bool = False) -> dict[str, int]:
    try:
        with urllib.request.urlopen(url.replace("/v1", "/stats/reset" if reset else "/stats"), timeout=2) as r:
            return json.loads(r.read())
    except Exception:
        return {"requests": 0, "max_in_flight": 0}


def run_once(concurrency: int, args: argparse.Namespace, url: str, work: Path, extra: Sequence[str] = (),
             label: str = "") -> dict[str, Any]:
    """One ``kernelgym run`` child process at ``concurrency``; ``extra``: more of its options (e.g.
    ``--backend ray --address ...``), ``label``: tells the run folders of a benchmark apart."""
    out = work / f"run{label}-c{concurrency}"
    episodes = concurrency * args.rounds
    rusage = work / f"rusage{label}-c{concurrency}.json"
    env = {**os.environ, "KG_BENCH_RUSAGE": str(rusage)}
    if getattr(args, "cprofile", None):
        env["KG_BENCH_CPROFILE"] = f"{args.cprofile}.c{concurrency}"
    tasks = min(episodes, args.tasks)
    rollouts = -(-episodes // tasks)
    cmd = [sys.executable, "-c", _WRAPPER, "run", "--suite", "ehr", "--split", "all", "--limit", str(tasks),
           "--rollouts", str(rollouts), "--model", "openai:stub-model", "--base-url", url, "--protocol", "tools",
           "--concurrency", str(concurrency), "--max-turns", str(args.turns + 2), "--no-progress", "--out", str(out),
           "--fail-on-error", "1"]
    if args.max_concurrent_requests:
        cmd += ["--max-concurrent-requests", str(args.max_concurrent_requests)]
    cmd += list(extra)
    base = _stub_stats(url, reset=True)["requests"]
    load0 = os.getloadavg()[0]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = {"threads": 0, "fds": 0, "pss": 0}
    cpu_at_first: float | None = None
    t_first = time.monotonic()
    last: dict[str, float] | None = None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or []), daemon=True)
    reader.start()
    server_cpu0 = (_proc(args.server_pid, pss=False) or {}).get("cpu", 0.0) if getattr(args, "server_pid", None) else None
    polls = 0
    while proc.poll() is None:
        sample = _proc(proc.pid, pss=polls % 8 == 0)  # PSS every 2 s, the rest every 0.25 s
        polls += 1
        if sample:
            last = sample
            for k in peak:
                peak[k] = max(peak[k], int(sample[k]))
            if cpu_at_first is None and _stub_stats(url)["requests"] > base:
                cpu_at_first, t_first = sample["cpu"], time.monotonic()
        time.sleep(0.25)
    proc.wait()
    t_end = time.monotonic()
    reader.join(5)
    load1 = os.getloadavg()[0]
    if not rusage.is_file() or not (out / "summary.json").is_file():
        sys.stderr.write("".join(lines)[-4000:])
        raise SystemExit(f"the run at concurrency {concurrency} failed (exit {proc.returncode})")
    ru = json.loads(rusage.read_text())
    summary = json.loads((out / "summary.json").read_text())
    n = summary["run"]["new_episodes"]
    wall = summary["run"]["wall_s"]
    cpu_total = ru["user"] + ru["sys"]
    kernels_cpu = ru.get("children_user", 0.0) + ru.get("children_sys", 0.0)
    server_cpu = None
    if server_cpu0 is not None:
        server_cpu = (_proc(args.server_pid, pss=False) or {}).get("cpu", server_cpu0) - server_cpu0
    startup = cpu_at_first if cpu_at_first is not None else 0.0
    rate = n / wall
    ideal = concurrency / (args.turns * args.latency)  # nominal: --tokens-per-s adds generation time on top
    return {
        "concurrency": concurrency, "episodes": n, "wall_s": wall, "episodes_per_s": round(rate, 2),
        "ideal_per_s": round(ideal, 2), "efficiency": round(rate / ideal, 3),
        "steady_per_s": round(n / (t_end - t_first), 2), "steady_efficiency": round(n / (t_end - t_first) / ideal, 3),
        "cpu_ms_per_episode": round(1000 * (cpu_total - startup) / n, 1), "startup_cpu_s": round(startup, 2),
        "kernels_cpu_ms_per_episode": round(1000 * kernels_cpu / n, 1),
        "server_cpu_ms_per_episode": None if server_cpu is None else round(1000 * server_cpu / n, 1),
        "cpu_total_s": round(cpu_total, 2), "peak_rss_mb": round(ru["maxrss_kb"] / 1024, 1),
        "peak_pss_mb": round(peak["pss"] / 2**20, 1), "peak_threads": peak["threads"], "peak_fds": peak["fds"],
        "max_requests_in_flight": _stub_stats(url)["max_in_flight"],
        "passed": summary["total"]["passed"], "errors": summary["total"]["errors"],
        "stop_reasons": summary["stop_reasons"], "load_before": round(load0, 2), "load_after": round(load1, 2),
        "nofile_soft": resource.getrlimit(resource.RLIMIT_NOFILE)[0], "last_sample": last,
        "backend": summary["run"].get("backend"),
    }


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of the server and of each run (shared with ray_llm_throughput.py)."""
    ap.add_argument("--concurrency", type=int, nargs="+", default=[8, 32, 128])
    ap.add_argument("--latency", type=float, default=1.0, help="seconds per model request")
    ap.add_argument("--tokens-per-s", type=float, default=0.0, help="added delay: completion tokens / this (0: none)")
    ap.add_argument("--turns", type=int, default=3, help="model calls (= cells) per episode")
    ap.add_argument("--rounds", type=int, default=3, help="episodes = concurrency x rounds")
    ap.add_argument("--tasks", type=int, default=400, help="distinct tasks at most (more episodes: rollouts)")
    ap.add_argument("--patients", type=int, default=120)
    ap.add_argument("--max-concurrent-requests", type=int, default=None, help="passed on to kernelgym run if given")
    ap.add_argument("--home", default=None, help="an existing KERNELGYM_HOME (default: a temp one, data built)")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (run folders, rusage files)")
    ap.add_argument("--server-host", default="127.0.0.1",
                    help="address the scripted server listens on and is called at (other machines' Ray nodes need "
                         "one they can reach)")


def prepare_home(args: argparse.Namespace, work: Path) -> None:
    """Point KERNELGYM_HOME at ``--home`` (or a temp home in ``work``) and build the ``ehr`` data there."""
    os.environ["KERNELGYM_HOME"] = args.home or str(work / "home")
    os.environ.pop("OPENAI_API_KEY", None)
    from kernelgym.kernel.paths import dataset_dir

    if not (dataset_dir("ehr") / "manifest.json").is_file():
        from kernelgym.datasets.ehr import build_ehr

        build_ehr(patients=args.patients, seed=0)


@contextmanager
def scripted_server(args: argparse.Namespace) -> Iterator[str]:
    """The scripted server in a child process; yields its base URL."""
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "0", "--latency", str(args.latency), "--tokens-per-s",
         str(args.tokens_per_s), "--turns", str(args.turns), "--server-host", args.server_host],
        stdout=subprocess.PIPE, text=True)
    args.server_pid = server.pid
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        url = f"http://{args.server_host}:{port}/v1"
        print(f"# scripted server {url}: latency {args.latency:g} s, {args.turns} model calls per episode; "
              f"{os.cpu_count()} CPUs; RLIMIT_NOFILE soft {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}", flush=True)
        yield url
    finally:
        server.terminate()
        server.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(ap)
    ap.add_argument("--cprofile", default=None, help="write cProfile stats of each run to FILE.cN and print the top")
    ap.add_argument("--json", action="store_true", help="print one JSON object per run instead of a table")
    ap.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve is not None:
        asyncio.run(_serve(args.serve, args.latency, args.tokens_per_s, args.turns, args.server_host))
        return 0

    work = Path(tempfile.mkdtemp(prefix="kg-llmbench-", dir="/tmp"))
    prepare_home(args, work)
    try:
        with scripted_server(args) as url:
            _table(args, url, work)
    finally:
        if args.keep:
            print(f"# kept {work}")
        else:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    return 0


def _table(args: argparse.Namespace, url: str, work: Path) -> None:
    if not args.json:
        print("| in flight | episodes | episodes/s | ideal | efficiency | from 1st request | host CPU ms/episode | start-up CPU s "
              "| kernels CPU ms/episode | server CPU ms/episode "
              "| peak RSS MB | peak PSS MB | threads | fds | requests in flight | load before/after |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for c in args.concurrency:
        r = run_once(c, args, url, work)
        if args.json:
            print(json.dumps(r), flush=True)
        else:
            print(f"| {c} | {r['episodes']} | {r['episodes_per_s']} | {r['ideal_per_s']} | {r['efficiency']:.0%} "
                  f"| {r['steady_per_s']} ({r['steady_efficiency']:.0%}) "
                  f"| {r['cpu_ms_per_episode']} | {r['startup_cpu_s']} | {r['kernels_cpu_ms_per_episode']} "
                  f"| {r['server_cpu_ms_per_episode']} | {r['peak_rss_mb']} | {r['peak_pss_mb']} "
                  f"| {r['peak_threads']} | {r['peak_fds']} | {r['max_requests_in_flight']} "
                  f"| {r['load_before']} / {r['load_after']} |", flush=True)
        if r["errors"]:
            print(f"#   {r['errors']} episode(s) ended in an error: {r['stop_reasons']}", flush=True)
        if args.cprofile:
            import pstats

            stats = pstats.Stats(f"{args.cprofile}.c{c}")
            stats.sort_stats("cumulative").print_stats(25)
            stats.sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    raise SystemExit(main())
