"""The per-video drill-down page: leave-one-out FVD by rank-one downdates against recomputing FVD without each row,
nearest real rows against brute force, the page's tables (motion scores joined, directions, filters, paired
differences), the page through Streamlit's AppTest on fixture roots, and the effects of real runs of the UCF101
runner read from their feature cache without extraction."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial.distance

from dashboard_fixtures import HOSTILE_SUBSTRING, build_bad_root, build_good_root, build_real_runs, write_run
from lumiere_eval.dashboard import drilldown, records
from lumiere_eval.dashboard.drilldown_view import link, link_markdown
from lumiere_eval.dashboard.paths import ResultFileError
from lumiere_eval.metrics import FeatureStats
from lumiere_eval.metrics.frechet import frechet_distance_to_features
from lumiere_eval.metrics.leave_one_out import leave_one_out_frechet, nearest_rows
from test_dashboard import app, texts, videos


def _gaussians(n: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(3 * dim + 20, dim)) @ rng.normal(size=(dim, dim)) * 0.3
    fake = rng.normal(size=(n, dim)) * rng.uniform(0.5, 2.0, size=dim) + 0.4
    return real, fake


# --- the maths ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("n,dim,unbiased", [(40, 8, True), (40, 8, False), (300, 32, True),
                                            (12, 20, True), (9, 400, True), (6, 10, False)])
def test_leave_one_out_frechet_equals_recomputing_without_each_row(n, dim, unbiased):
    real, fake = _gaussians(n, dim)
    stats = FeatureStats.from_features(real)
    mu, sigma = stats.mean, stats.covariance(unbiased)
    full, without = leave_one_out_frechet(mu, sigma, fake, unbiased)
    recomputed = np.array([frechet_distance_to_features(mu, sigma, np.delete(fake, i, axis=0), unbiased)
                           for i in range(n)])
    assert full == pytest.approx(frechet_distance_to_features(mu, sigma, fake, unbiased), rel=1e-12)
    np.testing.assert_allclose(without, recomputed, rtol=1e-10)
    assert np.ptp(without) > 1e-6 * full  # the rows do differ in their effect


def test_leave_one_out_frechet_matches_scipy_sqrtm_formula():
    real, fake = _gaussians(50, 6, seed=3)
    mu, sigma = real.mean(0), np.cov(real, rowvar=False)
    _, without = leave_one_out_frechet(mu, sigma, fake)
    rest = np.delete(fake, 7, axis=0)
    m, s = rest.mean(0), np.cov(rest, rowvar=False)
    reference = ((m - mu) ** 2).sum() + np.trace(s) + np.trace(sigma) - 2 * np.trace(scipy.linalg.sqrtm(s @ sigma).real)
    assert without[7] == pytest.approx(reference, rel=1e-9)


def test_a_far_outlier_has_the_largest_leave_one_out_effect():
    real, fake = _gaussians(60, 5, seed=4)
    fake[17] += 40.0
    stats = FeatureStats.from_features(real)
    full, without = leave_one_out_frechet(stats.mean, stats.covariance(True), fake)
    assert int(np.argmax(full - without)) == 17 and full - without[17] > 0


def test_leave_one_out_frechet_refuses_bad_input_with_one_line():
    from lumiere_eval.metrics.checks import MetricInputError

    with pytest.raises(MetricInputError, match="needs at least 3 rows"):
        leave_one_out_frechet(np.zeros(2), np.eye(2), np.ones((2, 2)))
    with pytest.raises(MetricInputError, match="feature dimensions differ: 2 and 3"):
        leave_one_out_frechet(np.zeros(2), np.eye(2), np.ones((5, 3)))


def test_nearest_rows_equal_brute_force_across_chunks():
    rng = np.random.default_rng(5)
    queries, reference = rng.normal(size=(37, 7)), rng.normal(size=(53, 7))
    index, distance = nearest_rows(queries, reference, chunk=8)
    brute = scipy.spatial.distance.cdist(queries, reference)
    np.testing.assert_array_equal(index, brute.argmin(axis=1))
    np.testing.assert_allclose(distance, brute.min(axis=1), rtol=1e-9)


# --- the page's tables --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """The good fixture root, beta's CLIPSIM shifted per sample (so the paired differences differ), and a
    motion.json for alpha."""
    good = build_good_root(tmp_path_factory.mktemp("drill"))
    beta = good / "suite" / "beta" / "samples.jsonl"
    rows = [json.loads(line) for line in beta.read_text().splitlines()]
    for row, shift in zip(rows, (3.0, -1.0, 0.5, 2.0)):
        row["clipsim"] += shift
    beta.write_text("".join(json.dumps(r) + "\n" for r in rows))
    motion = {"per_sample": {str(i): {"dynamic_dis": float(i % 2), "temporal_flickering": 0.9 - 0.1 * i}
                             for i in range(4)}}
    (good / "suite" / "alpha" / "motion.json").write_text(json.dumps(motion))
    return good


def test_motion_scores_are_joined_and_named_as_the_registry_names_them(root):
    samples = drilldown.with_motion(root, "suite/alpha", records.load_samples(root, "suite/alpha"))
    assert list(samples["dynamic_degree_dis"]) == [0.0, 1.0, 0.0, 1.0]
    assert samples["temporal_flickering"].tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6])
    assert {"clipsim", "temporal_flickering", "dynamic_degree_dis"} <= set(drilldown.numeric_scores(samples))
    assert "is_top1" not in drilldown.numeric_scores(samples)  # a class name, not a score


def test_a_malformed_motion_file_is_named(tmp_path):
    run = write_run(tmp_path / "run", "m", "synthetic", "p", 1.0, 1.0, samples_per_class=1)
    (run / "motion.json").write_text('{"per_sample": [1, 2]}')
    with pytest.raises(ResultFileError, match="run/motion.json: field 'per_sample'"):
        drilldown.with_motion(tmp_path, "run", records.load_samples(tmp_path, "run"))


def test_sorting_follows_the_registry_direction():
    import pandas as pd

    direction = drilldown.directions()
    assert direction["clipsim"] is True and direction["warping_error_dis"] is False
    assert direction[drilldown.LOO_EFFECT] is False
    frame = pd.DataFrame({"index": [0, 1, 2], "clipsim": [0.3, 0.1, np.nan], "warping_error_dis": [1.0, 3.0, 2.0]})
    assert list(drilldown.order(frame, "clipsim", True, direction)["index"]) == [1, 0, 2]  # lowest first, NaN last
    assert list(drilldown.order(frame, "clipsim", False, direction)["index"]) == [0, 1, 2]
    assert list(drilldown.order(frame, "warping_error_dis", True, direction)["index"]) == [1, 2, 0]  # highest first
    assert drilldown.label("clipsim", direction) == "clipsim ↑"


def test_paired_table_is_sorted_by_the_paired_difference(root):
    a, b = records.load_samples(root, "suite/alpha"), records.load_samples(root, "suite/beta")
    table = drilldown.paired(a, b, "clipsim")
    assert list(table["A - B"]) == [1.0, -0.5, -2.0, -3.0]
    assert list(table["index"]) == [1, 2, 3, 0]
    assert list(drilldown.paired(a, b, "clipsim", largest_first=False)["index"]) == [0, 3, 2, 1]
    assert table.loc[0, "video_a"] == "suite/alpha/samples/000001.mp4"
    assert table.loc[0, "video_b"] == "suite/beta/samples/000001.mp4"


def test_links_are_url_encoded_and_their_text_is_plain():
    assert link("suite/beta") == "?page=drilldown&run=suite%2Fbeta"
    assert link("a b", "c&d=e") == "?page=drilldown&run=a+b&run_b=c%26d%3De"
    hostile = link_markdown("see ](http://x)", "r)(x")
    assert "http://" not in hostile and "\\]\\(http" in hostile and "r%29%28x" in hostile


# --- the page -----------------------------------------------------------------------------------------

def test_one_run_filters_sorts_pages_and_plays_only_the_page(root, monkeypatch):
    at = app(root, "drilldown", monkeypatch, run="suite/alpha")
    assert not at.exception and not at.error
    assert at.selectbox(key="drill_run").value == "alpha (suite/alpha)"
    table = at.dataframe[0].value
    assert list(table["index"]) == [0, 1, 2, 3] and "temporal_flickering" in table
    assert len(videos(at)) == 4 and HOSTILE_SUBSTRING in texts(at)  # shown as text
    at.selectbox(key="drill_sort").set_value("temporal_flickering").run()
    assert list(at.dataframe[0].value["index"]) == [3, 2, 1, 0]  # higher is better: worst (lowest) first
    at.toggle(key="drill_worst").set_value(False).run()
    assert list(at.dataframe[0].value["index"]) == [0, 1, 2, 3]
    at.selectbox(key="drill_per_page").set_value(6).run()
    at.multiselect(key="drill_classes").set_value(["MoveRight"]).run()
    assert list(at.dataframe[0].value["index"]) == [2, 3] and len(videos(at)) == 2
    assert "2 of 4 samples match" in texts(at)
    at.text_input(key="drill_prompt").set_value("<B>").run()  # literal, any case
    assert len(at.dataframe[0].value) == 2
    at.text_input(key="drill_prompt").set_value("no such prompt").run()
    assert len(at.dataframe[0].value) == 0 and len(videos(at)) == 0 and not at.exception


def test_two_runs_side_by_side_sorted_by_the_paired_difference(root, monkeypatch):
    at = app(root, "drilldown", monkeypatch, run="suite/alpha", run_b="suite/beta")
    assert not at.exception and not at.error
    assert at.radio(key="drill_mode").value == "Two runs, paired"
    assert at.selectbox(key="drill_run_b").value == "beta (suite/beta)"
    table = at.dataframe[0].value
    assert list(table["A - B"]) == [1.0, -0.5, -2.0, -3.0]
    assert len(videos(at)) == 8  # both runs' video of each of the 4 samples
    at.toggle(key="drill_pair_order").set_value(False).run()
    assert list(at.dataframe[0].value["index"]) == [0, 3, 2, 1]
    at.selectbox(key="drill_run_b").set_value("alpha (suite/alpha)").run()
    assert "Pick two different runs" in "\n".join(i.value for i in at.info)


def test_run_and_compare_pages_link_to_the_drilldown(root, monkeypatch):
    at = app(root, "run", monkeypatch, run="suite/beta")
    assert "[Per-video drill-down of this run](?page=drilldown&run=suite%2Fbeta)" in [m.value for m in at.markdown]
    at = app(root, "compare", monkeypatch)
    assert any("?page=drilldown&run=suite%2Falpha&run_b=suite%2Fbeta" in m.value for m in at.markdown)


def test_a_run_without_cached_features_gets_an_error_card_and_the_rest_renders(root, monkeypatch):
    at = app(root, "drilldown", monkeypatch, run="suite/alpha", loo="1")
    assert not at.exception
    assert any("suite/alpha: cannot read the run's cached features" in e.value for e in at.error)
    assert len(at.dataframe[0].value) == 4 and len(videos(at)) == 4


def test_malformed_records_and_escaping_videos_become_error_cards(tmp_path, monkeypatch):
    (tmp_path / "bad").mkdir()
    (tmp_path / "outside").mkdir()
    bad = build_bad_root(tmp_path / "bad", tmp_path / "outside")
    at = app(bad, "drilldown", monkeypatch, run="escape")
    errors = "\n".join(e.value for e in at.error)
    assert not at.exception and "broken/results.json" in errors
    assert errors.count("outside the results root") == 2 and len(videos(at)) == 0  # the ../ path and the symlink
    assert len(at.dataframe[0].value) == 2  # the samples are still listed
    at = app(bad, "drilldown", monkeypatch, run="partial", run_b="escape")
    assert not at.exception and "partial/samples.jsonl line 3: not valid JSON" in "\n".join(e.value for e in at.error)


def test_ten_thousand_samples_page_one_page_of_videos(tmp_path, monkeypatch):
    run = write_run(tmp_path / "big", "big", "synthetic", "p", 1.0, 1.0, samples_per_class=1)
    row = json.loads((run / "samples.jsonl").read_text().splitlines()[0])
    lines = [json.dumps(dict(row, index=i, seed=i, clipsim=float((i * 37) % 1000))) + "\n" for i in range(10_000)]
    (run / "samples.jsonl").write_text("".join(lines))
    at = app(tmp_path, "drilldown", monkeypatch, run="big")
    assert not at.exception and not at.error
    assert "10000 of 10000 samples match" in texts(at) and len(videos(at)) == 12
    at.selectbox(key="drill_sort").set_value("clipsim").run()
    assert at.dataframe[0].value["clipsim"].tolist() == [0.0] * 10 + [1.0] * 2  # worst first
    at.number_input(key="drill_page").set_value(834).run()
    assert len(videos(at)) == 4 and len(at.dataframe[0].value) == 4 and not at.exception


# --- real runs: effects from the feature cache --------------------------------------------------------

@pytest.fixture(scope="module")
def real(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    results = tmp_path_factory.mktemp("real_results")
    return results, build_real_runs(results, tmp_path_factory.mktemp("real_scratch"))


def test_effects_from_the_cache_equal_recomputing_fvd_without_each_sample(real):
    from lumiere_eval.dashboard.set_effects import fvd_effects
    from lumiere_eval.runner.run_features import run_features

    results, runs = real
    effects = fvd_effects(results, "real/clean")
    recorded = json.loads((runs["clean"] / "results.json").read_text())["metrics"]["fvd"]
    assert effects.missing == 0 and effects.fvd == pytest.approx(recorded["value"], rel=1e-9)
    assert effects.recorded_fvd == recorded["value"]
    features = run_features(runs["clean"])  # the run's own rows, through the extracting path
    fake = np.stack(features.fake["fvd"]).astype(np.float64)
    real_rows = np.stack(features.real["fvd"]).astype(np.float64)
    stats = FeatureStats.from_features(real_rows)
    unbiased = recorded.get("covariance", "unbiased") == "unbiased"
    mu, sigma = stats.mean, stats.covariance(unbiased)
    without = [frechet_distance_to_features(mu, sigma, np.delete(fake, i, axis=0), unbiased) for i in range(len(fake))]
    np.testing.assert_allclose(effects.fvd - effects.table[drilldown.LOO_EFFECT].to_numpy(), without, rtol=1e-9)
    assert np.ptp(effects.table[drilldown.LOO_EFFECT]) > 1e-3 * effects.fvd  # the samples' effects differ
    nearest = scipy.spatial.distance.cdist(fake, real_rows).argmin(axis=1)
    assert list(effects.table["nearest_real"]) == [features.real_names[k] for k in nearest]
    assert all(name.endswith(".avi") for name in effects.table["nearest_real"])


def test_effects_never_extract_a_missing_row(real, tmp_path):
    from lumiere_eval.dashboard.set_effects import fvd_effects

    results, runs = real
    copy = tmp_path / "copy"
    shutil.copytree(runs["clean"], copy / "clean")
    config = json.loads((copy / "clean" / "config.json").read_text())
    config["cache_dir"] = str(tmp_path / "empty_cache")
    (copy / "clean" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ResultFileError, match="clean: the feature cache holds 0 generated and 0 real FVD rows"):
        fvd_effects(copy, "clean")
    assert not list((tmp_path / "empty_cache").rglob("*.npy"))  # nothing was computed into it


def test_page_shows_effects_and_nearest_clips_for_one_and_two_real_runs(real, monkeypatch):
    results, _ = real
    at = app(results, "drilldown", monkeypatch, run="real/clean", loo="1")
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert {drilldown.LOO_EFFECT, "nearest_real", "clipsim"} <= set(table) and len(table) == 9
    assert "FVD of the 9 cached rows" in texts(at)
    at.selectbox(key="drill_sort").set_value(drilldown.LOO_EFFECT).run()
    effects = at.dataframe[0].value[drilldown.LOO_EFFECT].tolist()
    assert effects == sorted(effects, reverse=True)  # lower is better: the sample raising FVD most first
    at = app(results, "drilldown", monkeypatch, run="real/clean", run_b="real/noisy", loo="1")
    assert not at.exception and not at.error
    at.selectbox(key="drill_pair_metric").set_value(drilldown.LOO_EFFECT).run()
    differences = at.dataframe[0].value["A - B"].tolist()
    assert len(differences) == 9 and differences == sorted(differences, reverse=True)
    assert len(videos(at)) == 18
