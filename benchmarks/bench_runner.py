"""End-to-end `lumiere-eval ucf101` pipeline: throughput per stage, and a cached rerun against a fresh run.

Runs the protocol on the synthetic domain (32x32, 16 frames) with the dummy generator and the in-domain
extractors, in a fresh cache; then the identical command again (everything cached).
Run: python benchmarks/bench_runner.py [--samples 96]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=96)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_runner_"))
    os.environ["LUMIERE_EVAL_HOME"] = str(work / "home")
    from lumiere_eval.cli import main as cli

    from lumiere_eval.demo.default_run import SIZES, ensure_synthetic_data

    ensure_synthetic_data(SIZES["full"], progress=False)  # rendering the domain is a one-off, not part of a run
    argv = ["ucf101", "--model", "dummy", "--synthetic-size", "full", "--num-samples", str(args.samples),
            "--out", str(work / "run"), "--no-progress"]
    rows = []
    for label in ("fresh", "cached rerun"):
        start = time.perf_counter()
        assert cli(argv) == 0
        wall = time.perf_counter() - start
        results = json.loads((work / "run" / "dummy" / "results.json").read_text())
        t = results["timings"]
        n_real = results["real_set"]["clips"]
        rows.append({"run": label, "samples": args.samples, "real_clips": n_real, "wall_s": wall,
                     "generate_s": t["generate_s"], "features_s": t["features_s"], "metrics_s": t["metrics_s"],
                     "generated_per_s": args.samples / t["generate_s"],
                     "featurised_videos_per_s": (args.samples + n_real) / t["features_s"]})
    rows[1]["speedup_vs_fresh"] = rows[0]["wall_s"] / rows[1]["wall_s"]
    rows[0]["speedup_vs_fresh"] = 1.0
    record("runner", rows, "Synthetic-domain protocol with the dummy generator (H.264 writes included) and the "
                           "in-domain extractors (FVD features, IS probabilities, CLIP-like frame embeddings); "
                           "the wall time includes the held-out real reference row and plots. Features stage = "
                           "decode + 3 extractors for generated videos, 1 for real clips.")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
