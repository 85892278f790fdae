"""The embedded default `lumiere-eval ucf101` (no arguments: three shipped models on the synthetic domain), timed
as a user runs it: a fresh run in an empty $LUMIERE_EVAL_HOME, then the identical command again (everything
cached: samples, features, synthetic domain). Each run is a separate process; the wall time includes Python
and torch start-up.

Run: python benchmarks/bench_default_run.py [--size full|tiny] [--reuse DIR]
`--reuse DIR` times only the cached rerun of a default run already done in DIR (cwd) with
$LUMIERE_EVAL_HOME=DIR/home, for example after a fresh run timed by hand.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record  # noqa: E402


def timed_run(work: Path, size: str) -> dict:
    """One `lumiere-eval ucf101` process in `work`; wall time and the per-model times it reports."""
    env = dict(os.environ, LUMIERE_EVAL_HOME=str(work / "home"))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lumiere_eval", "ucf101", "--synthetic-size", size, "--no-progress"],
                          cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    comparison = json.loads((work / "runs" / "demo" / "comparison.json").read_text())
    return {"wall_s": wall, **{f"{m}_s": r["wall_s"] for m, r in comparison["models"].items()}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=("full", "tiny"), default="full")
    parser.add_argument("--reuse", type=Path, default=None)
    args = parser.parse_args()
    work = args.reuse or Path(tempfile.mkdtemp(prefix="bench_default_run_"))
    rows = [] if args.reuse else [{"run": "fresh", "size": args.size, **timed_run(work, args.size)}]
    rows.append({"run": "cached rerun", "size": args.size, **timed_run(work, args.size)})
    record(f"default_run_{args.size}", rows,
           "`lumiere-eval ucf101` with no data root (lumiere, keyframe-cascade, per-frame-t2i on the synthetic domain; "
           "2 worker processes for generation), fresh then cached; wall time of the whole process, start-up included. "
           "Per-model columns: the model's share as comparison.json reports it.")


if __name__ == "__main__":
    main()
