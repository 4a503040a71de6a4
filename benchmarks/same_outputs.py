"""Compare two trees of kernelgym outputs (run folders, graded notebooks, exports) made by two versions
of kernelgym on the same tasks, ignoring only what differs from one run to the next: timestamps,
durations, cell ids, execution counts and the folders' own paths.

    python benchmarks/same_outputs.py BEFORE_DIR AFTER_DIR

Prints the files that differ and "N files compared, M differ"; exit code 1 if any differ. Used to
show that a refactor changed no result (docs/architecture.md).
"""
import json
import pathlib
import re
import sys

import nbformat
import pandas as pd

a, b = map(pathlib.Path, sys.argv[1:3])
VOLATILE = {"duration_s", "started_at", "start_time", "end_time", "graded_at", "id", "execution",
            "iopub.execute_input", "iopub.status.busy", "iopub.status.idle", "shell.execute_reply",
            "shell.execute_reply.started", "duration", "start_time", "end_time", "input_path", "output_path",
            "execution_count", "source", "notebook", "graded_notebook", "mean_duration_s", "wall_s", "median_s",
            # model-call timings (LLM runs): how long the server took, not what it answered
            "latency_s", "waited_s", "model_latency_s", "created"}
def norm(x, key=None):
    if isinstance(x, dict):
        return {k: norm(v, k) for k, v in x.items() if k not in VOLATILE or (k == "source" and not isinstance(v, str))}
    if isinstance(x, list):
        return [norm(v) for v in x]
    if isinstance(x, str):
        x = x.replace(str(a), "<DIR>").replace(str(b), "<DIR>")
        x = re.sub(r"\d+\.\d+ ?s\b", "T s", x)
        x = re.sub(r"\b\d{2}:\d{2}:\d{2}\b", "HH:MM:SS", x)
        x = re.sub(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?( UTC)?", "DATETIME", x)
    return x
def cellnorm(nb):
    d = json.loads(json.dumps(nb))
    d["metadata"].get("kernelgym", {}).pop("versions", None)
    for c in d["cells"]:
        c.pop("id", None); c.pop("execution_count", None)
        c.get("metadata", {}).pop("execution", None)
        for o in c.get("outputs", []):
            o.pop("execution_count", None)
    d["metadata"].pop("papermill", None)
    return norm(d)
diffs = 0; n = 0
for fa in sorted(a.rglob("*")):
    if fa.is_dir(): continue
    rel = fa.relative_to(a); fb = b / rel
    if fa.suffix in (".log", ".time", ".py", ".lock"): continue
    n += 1
    if not fb.exists():
        print("missing in b:", rel); diffs += 1; continue
    if fa.suffix == ".ipynb":
        A, B = cellnorm(nbformat.read(fa, 4)), cellnorm(nbformat.read(fb, 4))
        # cell sources must be identical
        # (normalised: the header cell states the episode's time and start)
        sa = [norm(c["source"]) for c in nbformat.read(fa, 4).cells]; sb = [norm(c["source"]) for c in nbformat.read(fb, 4).cells]
        if A != B or sa != sb:
            diffs += 1
            if diffs < 5: print("notebook differs:", rel)
    elif fa.suffix == ".jsonl":
        la = [norm(json.loads(l)) for l in fa.read_text().splitlines()]
        lb = [norm(json.loads(l)) for l in fb.read_text().splitlines()]
        if fa.name in ("results.jsonl", "grades.jsonl"):
            la.sort(key=json.dumps); lb.sort(key=json.dumps)
        if la != lb:
            diffs += 1; print("jsonl differs:", rel, len(la), len(lb))
            for x, y in zip(la, lb):
                if x != y: print(" ", json.dumps(x)[:400]); print(" ", json.dumps(y)[:400]); break
    elif fa.suffix == ".parquet":
        da, db = pd.read_parquet(fa), pd.read_parquet(fb)
        if not da.astype(str).equals(db.astype(str)):
            diffs += 1; print("parquet differs:", rel)
    elif fa.suffix == ".json":
        if norm(json.loads(fa.read_text())) != norm(json.loads(fb.read_text())):
            diffs += 1; print("json differs:", rel)
    else:
        if fa.read_bytes() != fb.read_bytes():
            diffs += 1; print("differs:", rel)
print(f"{n} files compared, {diffs} differ")
sys.exit(1 if diffs else 0)
