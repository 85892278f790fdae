"""How long the dashboard's per-video drill-down page takes to open on a 10,000-sample run, and the cost of the
leave-one-out FVD maths at that size.

    python benchmarks/bench_dashboard_drilldown.py [--samples 10000] [--no-browser]

A synthetic run folder (the fixture's tiny mp4s, `samples.jsonl` grown to --samples lines with varied scores and
a motion.json) is served three ways:
- the page script through Streamlit's AppTest: the first open in a fresh process (nothing cached: reads and
  parses samples.jsonl and motion.json, sorts, reads the 12 videos of page 1), a second session (cached reads),
  and interactions (next page, sort by a score, a class filter);
- `lumiere-eval dashboard` in headless Chromium: wall time from navigation to the page rendered (the table
  painted, 12 players present, Streamlit idle), first and second load, after a warm-up on another page;
- `leave_one_out_frechet` and `nearest_rows` on random 400-d rows (--samples generated, 2,048 real), the maths
  behind the page's leave-one-out toggle.
Writes benchmarks/results/dashboard_drilldown.{md,json}.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import best_time, record  # noqa: E402
from dashboard_fixtures import write_run  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "lumiere_eval" / "dashboard" / "app.py"


def synthetic_run(root: Path, samples: int) -> Path:
    """A run whose samples.jsonl has `samples` lines (4 real mp4s, reused) and a motion.json for each."""
    run = write_run(root / "big", "big", "synthetic", "p", 1.0, 1.0, samples_per_class=2)
    base = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    rng = np.random.default_rng(0)
    lines = [json.dumps(dict(base[i % 4], index=i, seed=i, clipsim=float(rng.normal(25, 3)),
                             is_prob_of_prompted_class=float(rng.uniform()))) + "\n" for i in range(samples)]
    (run / "samples.jsonl").write_text("".join(lines))
    motion = {"per_sample": {str(i): {"temporal_flickering": float(rng.uniform(0.9, 1.0)),
                                      "dynamic_dis": float(rng.integers(0, 2))} for i in range(samples)}}
    (run / "motion.json").write_text(json.dumps(motion))
    return run


def apptest_rows(root: Path) -> list[dict]:
    """Script times of the drill-down page through AppTest (first open in this process, then cached)."""
    from streamlit.testing.v1 import AppTest

    os.environ["LUMIERE_EVAL_DASHBOARD_ROOT"] = str(root)
    rows = []

    def timed(what: str, action) -> object:
        start = time.perf_counter()
        at = action()
        seconds = time.perf_counter() - start
        assert not at.exception and not at.error, (what, at.exception, at.error)
        rows.append({"how": "AppTest (script run)", "step": what, "seconds": seconds,
                     "videos_on_page": len(at.get("video"))})
        return at

    def fresh():
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.query_params["page"], at.query_params["run"] = "drilldown", "big"
        return at.run()

    timed("open (first in process: nothing cached)", fresh)
    at = timed("open (second session: cached reads)", fresh)
    timed("next page", lambda: at.number_input(key="drill_page").set_value(2).run())
    timed("sort by clipsim", lambda: at.selectbox(key="drill_sort").set_value("clipsim").run())
    timed("filter one class", lambda: at.multiselect(key="drill_classes").set_value(["MoveLeft"]).run())
    return rows


def browser_rows(root: Path) -> list[dict]:
    """Wall time from navigation to the rendered page in headless Chromium, served by `lumiere-eval dashboard`."""
    from test_dashboard_browser import CHROMIUM, DevTools, _free_port, _wait

    if CHROMIUM is None:
        print("no chromium: browser figures skipped")
        return []
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "lumiere_eval", "dashboard", str(root), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    with tempfile.TemporaryDirectory() as profile:
        browser = None
        try:
            _wait(lambda: _healthy(port), 60, "the dashboard")
            browser = DevTools(Path(profile))
            steps = {"warm-up: the leaderboard page (loads Streamlit's scripts)": ("leaderboard", "Leaderboard"),
                     "drill-down, first load (server cache empty)": ("drilldown&run=big", "samples match"),
                     "drill-down, second load (cached reads)": ("drilldown&run=big", "samples match")}
            for step, (page, text) in steps.items():
                start = time.perf_counter()
                browser.call("Page.navigate", url=f"http://127.0.0.1:{port}/?page={page}")

                def rendered():
                    state = browser.state()
                    players = state["videos"] == 12 or page == "leaderboard"
                    return (not state["running"] and text in state["text"] and players
                            and state["tables"] >= 1 and state["painted_tables"] >= state["tables"])

                _wait(rendered, 120, "the drill-down page")
                rows.append({"how": "Chromium (navigate to rendered)", "step": step,
                             "seconds": time.perf_counter() - start, "videos_on_page": browser.state()["videos"]})
        finally:
            if browser is not None:
                browser.close()
            server.terminate()
            server.wait(timeout=20)
    return rows


def _healthy(port: int) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read() == b"ok"
    except OSError:
        return False


def maths_rows(samples: int, dim: int = 400, real: int = 2048) -> list[dict]:
    """Best of 3 wall times of the leave-one-out FVD and the nearest real rows on random features."""
    from lumiere_eval.metrics import FeatureStats
    from lumiere_eval.metrics.leave_one_out import leave_one_out_frechet, nearest_rows

    rng = np.random.default_rng(1)
    fake, reference = rng.normal(size=(samples, dim)) * 1.1, rng.normal(size=(real, dim))
    stats = FeatureStats.from_features(reference)
    mu, sigma = stats.mean, stats.covariance(True)
    return [{"how": f"maths ({samples} x {dim} generated, {real} real)", "step": "leave-one-out FVD of every sample",
             "seconds": best_time(lambda: leave_one_out_frechet(mu, sigma, fake)), "videos_on_page": "-"},
            {"how": f"maths ({samples} x {dim} generated, {real} real)", "step": "nearest real row of every sample",
             "seconds": best_time(lambda: nearest_rows(fake, reference)), "videos_on_page": "-"}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000, help="Samples in the synthetic run.")
    parser.add_argument("--no-browser", action="store_true", help="Skip the Chromium figures.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        synthetic_run(root, args.samples)
        rows = apptest_rows(root)
        if not args.no_browser:
            rows += browser_rows(root)
    rows += maths_rows(args.samples)
    record("dashboard_drilldown", rows,
           notes=f"Per-video drill-down page on a synthetic run of {args.samples} samples (samples.jsonl and "
                 "motion.json; 12 videos per page, only those read). AppTest: the page script's wall time. "
                 "Chromium: navigation until the table is painted, 12 players exist and Streamlit is idle. "
                 "One run each, on a 2-core machine shared with other jobs.")


if __name__ == "__main__":
    main()
