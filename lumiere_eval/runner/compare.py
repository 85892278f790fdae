"""`lumiere-eval compare RUN_A RUN_B`: paired differences of every metric, and sample-size curves of a run.

Two runs are paired when they hold the same sample indices with the same prompts and seeds (the UCF101
runner gives sample i the same prompt and seed for every model); a comparison of unpaired runs is
refused. Set metrics (every registered one the runs hold that has an interval: FVD, KVD, IS, cd-FVD, JEDi, frame FID,
precision) are recomputed on the same resampled sample indices for both runs
from the cached per-sample features, against the shared real set; per-sample scores (CLIPSIM, the
motion tier) also get a sign test and a permutation test. A metric the two runs computed under different
protocols (another extractor, clip sampling or sample count) is left out, with a note. p-values are adjusted over all metrics (Holm
by default) and a difference is called significant when its adjusted p-value is at most `alpha`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from lumiere_eval import LumiereEvalError
from lumiere_eval.metrics import curves, extrapolation, paired
from lumiere_eval.metrics.intervals import HALF_SAMPLING, MIN_SAMPLES, SET_METHODS, interval_text
from lumiere_eval.metrics.registry import INTERVAL_METHOD_NAMES, get_metric
from lumiere_eval.runner.run_features import RunFeatures, run_features
from lumiere_eval.runner.run_folder import load_records

COMPARE_FILE = "compare.json"
CURVES_FILE = "sample_size.json"


def check_paired(records_a: list[dict], records_b: list[dict], name_a: str, name_b: str) -> None:
    """Refuse runs whose samples are not the same (index, prompt, seed) triples."""
    key = lambda r: (r["index"], r["prompt"], r["seed"])  # noqa: E731
    a, b = {r["index"]: key(r) for r in records_a}, {r["index"]: key(r) for r in records_b}
    if set(a) != set(b):
        only = sorted(set(a) ^ set(b))
        raise LumiereEvalError(f"{name_a} and {name_b} are not paired: they hold different samples "
                               f"({len(set(a) - set(b))} only in the first, {len(set(b) - set(a))} only in the "
                               f"second, first index {only[0]}); run both with the same protocol, seed and "
                               "--num-samples")
    for index in sorted(a):
        if a[index] != b[index]:
            raise LumiereEvalError(f"{name_a} and {name_b} are not paired: sample {index} has prompt "
                                   f"{a[index][1]!r} seed {a[index][2]} in the first and prompt {b[index][1]!r} "
                                   f"seed {b[index][2]} in the second")


def _stack(blocks: list, keep: np.ndarray) -> np.ndarray:
    return np.stack([blocks[i] for i in keep]).astype(np.float64)


def set_statistics(run: RunFeatures, keep: np.ndarray) -> dict[str, Callable[[np.ndarray], float]]:
    """Per set metric the run holds, a function of sample positions (into `keep`) giving the metric's value:
    the registry's `statistic` on the run's cached rows, under the run's protocols."""
    from lumiere_eval.metrics.registry import METRICS

    protocols = run.config.protocols()
    stats: dict[str, Callable[[np.ndarray], float]] = {}
    for name in run.results.get("metrics", {}):
        metric = METRICS.get(name)
        if metric is None or metric.statistic is None or metric.features[0].job not in run.fake:
            continue
        if metric.interval == "none":  # no resampling interval holds for it (recall: repeated rows' radii)
            continue
        need = metric.features[0]
        real = None
        if "real" in need.sides:
            rows = [r for r in run.real[need.job] if r is not None]
            real = (np.concatenate(rows) if rows[0].ndim == 2 else np.stack(rows)).astype(np.float64)
        stats[name] = metric.statistic_function()(real, _stack(run.fake[need.job], keep), protocols.of_job(need.job))
    return stats


def _usable(run: RunFeatures) -> np.ndarray:
    ok = np.ones(len(run.records), bool)
    for blocks in run.fake.values():
        ok &= np.array([b is not None for b in blocks])
    return ok


def _higher_is_better(results: dict, name: str) -> bool | None:
    from lumiere_eval.metrics.registry import higher_is_better

    metric = results.get("metrics", {}).get(name, {})
    return metric.get("higher_is_better", higher_is_better().get(name))


def _protocol(results: dict, name: str) -> str | None:
    """The protocol a run computed metric or per-sample score `name` under (None for the motion tier's)."""
    metric = {"is_prob_of_prompted_class": "is"}.get(name, name)
    return results.get("metrics", {}).get(metric, {}).get("protocol")


def _same_protocol(a: dict, b: dict, name: str, notes: list[str]) -> bool:
    """Whether both runs computed `name` under one protocol; if not, a note says why it is not compared."""
    if _protocol(a, name) == _protocol(b, name):
        return True
    notes.append(f"{name} not compared: the runs computed it under other protocols ({_protocol(a, name)} and "
                 f"{_protocol(b, name)})")
    return False


def per_sample_scores(folder: Path, records: list[dict], motion: bool, features: RunFeatures,
                      rescore: bool = False) -> dict[str, np.ndarray]:
    """Per-sample score arrays in record order (NaN where a sample has none): the records' own and the
    motion tier's (computed and cached on first use; recomputed for videos changed after the run with `rescore`)."""
    from lumiere_eval.metrics.registry import per_sample_directions
    from lumiere_eval.runner.motion_tier import load_or_run_motion

    scores = {name: np.array([r.get(name, np.nan) for r in records], dtype=np.float64)
              for name in per_sample_directions() if any(name in r for r in records)}
    if motion:
        per_sample = load_or_run_motion(folder, frame_embeddings=features.fake.get("clipsim"),
                                        rescore=rescore)["per_sample"]
        rows = [per_sample.get(str(r["index"])) or {} for r in records]
        for name in dict.fromkeys(k for row in rows for k in row):
            metric = "dynamic_degree_dis" if name == "dynamic_dis" else name
            scores[metric] = np.array([row.get(name, np.nan) for row in rows], dtype=np.float64)
    return scores


def compare_runs(run_a: Path, run_b: Path, alpha: float = 0.05, num_resamples: int = 1000, seed: int = 0,
                 motion: bool = True, correction: str = "holm",
                 features: tuple[RunFeatures, RunFeatures] | None = None, rescore: bool = False) -> dict:
    """Paired difference (A - B) of every metric the two runs share, with intervals and adjusted p-values
    (`features`: the two runs' features when the caller has read them already). Sample videos changed after
    their run are refused naming them, or with `rescore` featurised and scored as they are now."""
    run_a, run_b = Path(run_a), Path(run_b)
    if run_a.resolve() == run_b.resolve():
        raise LumiereEvalError(f"{run_a} and {run_b} are one run (both sides are the same folder); "
                               "compare two different runs of the same prompts and seeds")
    records_a, records_b = load_records(run_a, rescore), load_records(run_b, rescore)
    check_paired(records_a, records_b, str(run_a), str(run_b))
    rows: dict[str, dict] = {}
    notes = []
    a, b = features or (run_features(run_a, rescore=rescore), run_features(run_b, rescore=rescore))
    records_a, records_b = a.records, b.records  # per-sample scores recomputed where a video was rescored
    if a.results.get("real_set", {}).get("hash") != b.results.get("real_set", {}).get("hash"):
        notes.append("set metrics not compared: the runs used different real sets (real_set.hash differs)")
    else:
        keep = np.flatnonzero(_usable(a) & _usable(b))
        everything = np.arange(len(keep))
        stats_a, stats_b = set_statistics(a, keep), set_statistics(b, keep)
        if len(keep) < MIN_SAMPLES and stats_a:
            notes.append(f"set metrics not compared: {len(keep)} usable pairs, an interval needs {MIN_SAMPLES}")
            stats_a = {}
        for name in sorted(set(stats_a) & set(stats_b)):
            if not _same_protocol(a.results, b.results, name, notes):
                continue
            row = paired.paired_set_interval(len(keep), stats_a[name], stats_b[name], num_resamples, seed=seed)
            rows[name] = row | {"kind": "set", "n_pairs": int(len(keep)), "a": stats_a[name](everything),
                                "b": stats_b[name](everything), "p": row["p_normal"],
                                "higher_is_better": _higher_is_better(a.results, name)}
    scores_a = per_sample_scores(run_a, records_a, motion, a, rescore)
    scores_b = per_sample_scores(run_b, records_b, motion, b, rescore)
    for name in sorted(set(scores_a) & set(scores_b)):
        x, y = scores_a[name], scores_b[name]
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() < 2 or not _same_protocol(a.results, b.results, name, notes):
            continue
        x, y = x[ok], y[ok]
        row = paired.paired_mean_bootstrap(x, y, num_resamples, seed=seed) | {"interval_method": "percentile"}
        row |= paired.sign_test(x, y)
        row["p_permutation"] = paired.permutation_test(x, y, seed=seed)
        rows[name] = row | {"kind": "per-sample", "n_pairs": int(ok.sum()), "a": float(x.mean()), "b": float(y.mean()),
                            "p": row["p_permutation"], "higher_is_better": _higher_is_better({}, name)}
    if not rows:
        raise LumiereEvalError(f"{run_a} and {run_b} share no metric to compare")
    adjusted = adjust({name: row["p"] for name, row in rows.items()}, correction)
    for name, row in rows.items():
        row["p_adjusted"] = adjusted[name]
        row["significant"] = bool(adjusted[name] <= alpha)
        row["better"] = _better(row)
    return {"run_a": str(run_a), "run_b": str(run_b), "alpha": alpha, "correction": correction,
            "num_resamples": num_resamples, "seed": seed, "metrics": rows, "notes": notes}


def adjust(p_values: dict[str, float], correction: str) -> dict[str, float]:
    """Holm, Benjamini-Hochberg ("bh") or no ("none") adjustment."""
    if correction == "holm":
        return paired.holm(p_values)
    if correction == "bh":
        names = sorted(p_values, key=p_values.get, reverse=True)
        m, running, out = len(names), 1.0, {}
        for rank, name in zip(range(len(names), 0, -1), names):
            running = min(running, p_values[name] * m / rank)
            out[name] = running
        return out
    if correction == "none":
        return dict(p_values)
    raise LumiereEvalError(f"unknown correction {correction!r}; known: holm, bh, none")


def _better(row: dict) -> str:
    if not row["significant"] or row["higher_is_better"] is None:
        return "neither (not significant)" if not row["significant"] else "-"
    a_larger = row["difference"] > 0
    return "A" if a_larger == row["higher_is_better"] else "B"


def compare_markdown(result: dict) -> str:
    """The comparison as a Markdown table, the runs named by their folder names (the paths are in the JSON)."""
    lines = [f"# Paired comparison: A = {Path(result['run_a']).name}, B = {Path(result['run_b']).name}", "",
             f"Difference A - B with a 95% paired interval ({result['num_resamples']} resamples of the same "
             "sample indices on both sides: half-sampling for set metrics, an interval of E[A - B at N] with the "
             "real set fixed; the percentile bootstrap for per-sample means); p-values adjusted by "
             f"{result['correction']}; significant at alpha = {result['alpha']}.", "",
             "| metric | kind | pairs | A | B | A - B [95% CI] | p | p adjusted | better |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in result["metrics"].items():
        interval = interval_text(r["difference"], r["ci_low"], r["ci_high"], ".4g")
        lines.append(f"| {name} | {r['kind']} | {r['n_pairs']} | {r['a']:.4g} | {r['b']:.4g} | {r['difference']:.4g}"
                     f"{interval} | {r['p']:.3g} | {r['p_adjusted']:.3g} | {r['better']} |")
    lines += [""] + [f"Note: {n}" for n in result["notes"]]
    return "\n".join(lines).rstrip() + "\n"


def curve_interval_method(name: str) -> str:
    """The set-metric method a curve of metric `name` uses: its registered one (pooled-t for the set metrics),
    plain half-sampling for the others (precision's mean included)."""
    method = INTERVAL_METHOD_NAMES.get(get_metric(name).interval)
    return method if method in SET_METHODS else HALF_SAMPLING


def run_curves(folder: Path, num_resamples: int = 50, seed: int = 0, start: int = 64,
               features: RunFeatures | None = None, rescore: bool = False, draws: int = 5) -> dict:
    """Sample-size curves of every set metric of a run, and for FVD, KVD, cd-FVD and frame FID the extrapolation
    to infinite N over the curve's sizes (`draws` random subsets per size; `extrapolation`); writes
    `sample_size.json` and `sample_size.png` (sample videos changed after the run refused, or with `rescore`
    featurised as they are now)."""
    from lumiere_eval.files import atomic_write_json

    folder = Path(folder)
    run = features or run_features(folder, rescore=rescore)
    keep = np.flatnonzero(_usable(run))
    result = {"rule": "settled when the value moved from N/2 to N by at most the interval half-width at N",
              "interval_method": {}, "metrics": {}, "warnings": []}
    for name, statistic in set_statistics(run, keep).items():
        method = curve_interval_method(name)
        points = curves.sample_size_curve(len(keep), statistic, curves.curve_sizes(len(keep), start),
                                          num_resamples, seed=seed, method=method, floor=get_metric(name).floor)
        check = curves.settled(points)
        result["interval_method"][name] = method
        result["metrics"][name] = {"points": points, **check}
        if name in extrapolation.EXTRAPOLATED and len(points) >= 2:
            result["metrics"][name]["extrapolation"] = extrapolation.extrapolate(
                len(keep), statistic, [p["n"] for p in points], draws, num_resamples, seed=seed)
        if check["settled"] is False:
            result["warnings"].append(f"{name} has not settled at N={points[-1]['n']}: {check['reason']}")
    atomic_write_json(folder / CURVES_FILE, result)
    plot_curves(result, folder / "sample_size.png", title=str(folder.name))
    return result


def plot_curves(result: dict, path: Path, title: str = "") -> Path:
    """One panel per metric: value against N with its interval band; a red title when not settled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["metrics"])
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(4 * max(1, len(names)), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        m = result["metrics"][name]
        n = [p["n"] for p in m["points"]]
        band = [[np.nan if p[k] is None else p[k] for p in m["points"]] for k in ("ci_low", "ci_high")]
        ax.fill_between(n, *band, alpha=0.25)
        ax.plot(n, [p["value"] for p in m["points"]], marker="o")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("generated samples N")
        ax.set_title(f"{name}: {'settled' if m['settled'] else 'NOT settled'}", fontsize=10,
                     color="black" if m["settled"] else "#b00000")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    from lumiere_eval.files import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return path
