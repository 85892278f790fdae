"""Helpers shared by the benchmark scripts: timing and recording results beside them."""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

RESULTS = Path(__file__).resolve().parent / "results"


def best_time(fn: Callable[[], object], repeats: int = 3) -> float:
    """Best wall time of `repeats` calls, in seconds (the least disturbed by other load on the machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def machine() -> dict:
    """What the figures were measured on."""
    import torch

    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def record(name: str, rows: list[dict], notes: str = "", machine_extra: dict | None = None) -> Path:
    """Write the figures as JSON and as a Markdown table under benchmarks/results/, and print the table.

    `machine_extra` overrides entries of `machine()`, e.g. the thread count of child processes that measured.
    """
    RESULTS.mkdir(exist_ok=True)
    host = {**machine(), **(machine_extra or {})}
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": host, "rows": rows, "notes": notes}, indent=2))
    keys = list(rows[0])
    lines = [f"# {name}", "", notes, "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k]) for k in keys) + " |"
              for r in rows]
    lines += ["", f"Machine: {json.dumps(host)}"]
    text = "\n".join(lines) + "\n"
    (RESULTS / f"{name}.md").write_text(text)
    print(text)
    return RESULTS / f"{name}.md"
